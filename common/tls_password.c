/* common/tls_password.c: an encrypted key's password from the config
 * (listen[].tls.key_password or key_password_file), never a prompt. */

#include <stdio.h>
#include <string.h>

#include "common/conf.h"
#include "common/tls_password.h"

int am_tls_password_asked;

int
am_tls_password_cb(char *buf, int size, int rwflag, void *userdata)
{
    const am_tls_conf_t *t = userdata;
    char line[1024];
    size_t n;
    FILE *fp;

    am_tls_password_asked = 1;
    if (t == NULL || size <= 0) {
        return 0;
    }
    if (t->key_password != NULL) {
        n = strlen(t->key_password);
        if (n >= (size_t)size) {
            return 0;
        }
        memcpy(buf, t->key_password, n);
        return (int)n;
    }
    if (t->key_password_file == NULL) {
        return 0;
    }
    fp = fopen(t->key_password_file, "re");
    if (fp == NULL) {
        return 0;
    }
    if (fgets(line, sizeof(line), fp) == NULL) {
        line[0] = '\0';
    }
    fclose(fp);
    n = strcspn(line, "\r\n");
    if (n >= (size_t)size) {
        return 0;
    }
    memcpy(buf, line, n);
    return (int)n;
}
