/* tests/bench/ws_load.c: a WebSocket echo load generator for `make
 * bench`: N connections to ws://127.0.0.1:PORT/PATH, each sending one
 * masked text message of SIZE bytes and awaiting its echo, over and over
 * for SECONDS. Prints messages/s. One thread, poll(2); every step bounded
 * by the run's deadline.
 * Usage: ws_load PORT PATH CONNECTIONS SIZE SECONDS
 * SPDX-License-Identifier: BSD-2-Clause
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WS_MAX_CONNS 1024

typedef struct {
    int fd;
    size_t got, want; /* bytes of the echo frame read / expected */
} ws_conn_t;

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
ws_open(int port, const char *path)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    char req[512], buf[1024];
    size_t len = 0;
    ssize_t n;
    int fd, one = 1;

    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd == -1 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
        perror("connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 path, port);
    if (write(fd, req, (size_t)n) != n) {
        perror("write");
        exit(1);
    }
    while (len < sizeof(buf) - 1) {
        n = read(fd, buf + len, 1); /* the head only, byte by byte */
        if (n <= 0) {
            fprintf(stderr, "handshake failed\n");
            exit(1);
        }
        len++;
        buf[len] = '\0';
        if (len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0) {
            break;
        }
    }
    if (strncmp(buf, "HTTP/1.1 101", 12) != 0) {
        fprintf(stderr, "handshake: %.40s\n", buf);
        exit(1);
    }
    return fd;
}

int
main(int argc, char **argv)
{
    static ws_conn_t conns[WS_MAX_CONNS];
    static struct pollfd pfd[WS_MAX_CONNS];
    static char rbuf[1 << 16];
    uint8_t *msg;
    size_t size, hlen, i, nconn;
    double secs, start, end;
    unsigned long long done = 0;
    int port;

    if (argc != 6) {
        fprintf(stderr, "usage: ws_load PORT PATH CONNECTIONS SIZE SECONDS\n");
        return 2;
    }
    port = atoi(argv[1]);
    nconn = (size_t)atoi(argv[3]);
    size = (size_t)atoi(argv[4]);
    secs = atof(argv[5]);
    if (nconn == 0 || nconn > WS_MAX_CONNS || size < 126 || size > 65535) {
        fprintf(stderr, "ws_load: 1..1024 connections, 126..65535 bytes\n");
        return 2;
    }
    /* A masked text frame, built once (mask 0: payload unchanged). */
    msg = malloc(size + 8);
    msg[0] = 0x81;
    msg[1] = 0x80 | 126;
    msg[2] = (uint8_t)(size >> 8);
    msg[3] = (uint8_t)size;
    memset(msg + 4, 0, 4);
    memset(msg + 8, 'x', size);
    hlen = 8;
    for (i = 0; i < nconn; i++) {
        conns[i].fd = ws_open(port, argv[2]);
        conns[i].want = 4 + size; /* server frame: 2 + 2 length bytes */
        pfd[i].fd = conns[i].fd;
        pfd[i].events = POLLIN;
        if (write(conns[i].fd, msg, hlen + size) != (ssize_t)(hlen + size)) {
            perror("write");
            return 1;
        }
    }
    start = now();
    end = start + secs;
    while (now() < end) {
        int n = poll(pfd, nconn, 100);

        if (n == -1 && errno != EINTR) {
            perror("poll");
            return 1;
        }
        for (i = 0; i < nconn && n > 0; i++) {
            ssize_t r;

            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                continue;
            }
            r = read(pfd[i].fd, rbuf, sizeof(rbuf));
            if (r <= 0) {
                fprintf(stderr, "connection %zu closed\n", i);
                return 1;
            }
            conns[i].got += (size_t)r;
            while (conns[i].got >= conns[i].want) {
                conns[i].got -= conns[i].want;
                done++;
                if (write(pfd[i].fd, msg, hlen + size) !=
                    (ssize_t)(hlen + size)) {
                    perror("write");
                    return 1;
                }
            }
        }
    }
    printf("%.0f\n", (double)done / (now() - start));
    for (i = 0; i < nconn; i++) {
        close(conns[i].fd);
    }
    free(msg);
    return 0;
}
