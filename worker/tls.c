/* worker/tls.c: PLACEHOLDER so the tree links while the TLS layer is being
 * written (helper: replace this whole file). TLS listeners fail. */
#include "worker/tls.h"
int am_tls_init(am_conf_t *c) { (void)c; return 0; }
am_tls_conn_t *am_tls_conn_create(am_listen_t *l, int fd) { (void)l; (void)fd; return 0; }
void am_tls_conn_destroy(am_tls_conn_t *t) { (void)t; }
int am_tls_handshake(am_tls_conn_t *t, uint32_t *w) { (void)t; (void)w; return -1; }
int am_tls_alpn_h2(am_tls_conn_t *t) { (void)t; return 0; }
ssize_t am_tls_recv(am_tls_conn_t *t, void *b, size_t l, uint32_t *w) { (void)t;(void)b;(void)l;(void)w; return -1; }
ssize_t am_tls_send(am_tls_conn_t *t, const void *b, size_t l, uint32_t *w) { (void)t;(void)b;(void)l;(void)w; return -1; }
void am_tls_shutdown(am_tls_conn_t *t) { (void)t; }
void am_tls_idle(am_tls_conn_t *t) { (void)t; }
const am_tls_info_t *am_tls_info(am_tls_conn_t *t) { (void)t; return 0; }
