/* bench/hello: a bare libmicrohttpd "hello world" server, the baseline `make bench` compares the
 * real service against. Same threading as src/core/http.c (internal polling thread + epoll, a
 * thread pool of N). The handler is two-phase: the first call for a request only marks it, the
 * response is queued on the second call (answering on the first call makes MHD 0.9.75 send
 * `Connection: close` and drop keep-alive). Pass "onephase" to see that trap.
 * Usage: bench-hello PORT [THREADS=1] [onephase]. Runs until SIGINT/SIGTERM. */
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char HELLO[] = "hello, world\n";
static struct MHD_Response *hello_resp;
static int one_phase;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    static int first_call_marker;
    (void)cls, (void)url, (void)method, (void)version, (void)upload;
    if (!one_phase && *con_cls == NULL) {
        *con_cls = &first_call_marker; /* phase 1: headers seen, answer on the next call */
        return MHD_YES;
    }
    if (*upload_size) { /* ignore any body */
        *upload_size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(c, MHD_HTTP_OK, hello_resp);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [THREADS] [onephase]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    one_phase = argc > 3 && strcmp(argv[3], "onephase") == 0;
    if (port <= 0 || port > 65535 || threads < 1 || threads > 256) {
        fprintf(stderr, "bad port or thread count\n");
        return 2;
    }
    hello_resp =
        MHD_create_response_from_buffer(sizeof HELLO - 1, (void *)HELLO, MHD_RESPMEM_PERSISTENT);
    if (!hello_resp) return 1;
    MHD_add_response_header(hello_resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");

    /* block the stop signals in every thread (MHD's inherit the mask); main sigwaits for them */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);

    unsigned int flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d =
        MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, NULL,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                         threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
                         (unsigned int)threads, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "bench-hello: cannot listen on port %d\n", port);
        MHD_destroy_response(hello_resp);
        return 1;
    }
    fprintf(stderr, "bench-hello: listening on port %d, %d thread(s), %s\n", port, threads,
            one_phase ? "one-phase handler" : "two-phase handler");
    int sig;
    sigwait(&stop_set, &sig);
    MHD_stop_daemon(d);
    MHD_destroy_response(hello_resp);
    return 0;
}
