/*
 * Runs a node script from the tests (s3rver front end, fake GCS) as a child process and
 * waits for the "PORT <n>" line it prints once it listens.
 */
#ifndef ITX_TESTS_STORE_NODE_PROC_H
#define ITX_TESTS_STORE_NODE_PROC_H

#include <sys/types.h>

struct node_proc {
    pid_t pid;
    unsigned port;
};

/* argv: script path and its arguments (NULL-terminated). 0 on success. */
int node_proc_start(struct node_proc *p, const char *const *argv);
void node_proc_stop(struct node_proc *p);

/* A plain HTTP request to 127.0.0.1:port (for control paths of the fakes), or to path
 * itself when it is a whole http URL; returns the
 * status and copies up to out_size-1 bytes of the body into out. */
long node_proc_http(unsigned port, const char *method, const char *path, char *out,
                    size_t out_size);

#endif
