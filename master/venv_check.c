/* master/venv_check.c: refuse a virtualenv made by another Python than
 * the one compiled in (AM_PYTHON_EXE, AM_PYTHON_VERSION from the
 * Makefile), with one line that says how to rebuild. */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/core.h"
#include "master/venv_check.h"

#ifndef AM_PYTHON_EXE
#define AM_PYTHON_EXE "/usr/bin/python3"
#endif
#ifndef AM_PYTHON_VERSION
#define AM_PYTHON_VERSION "3.11.2"
#endif

/* "3.12.1" and "3.12" name the same major.minor? */
static int
venv_same_minor(const char *a, const char *b)
{
    size_t n = 0;
    int dots = 0;

    while (a[n] != '\0' && b[n] != '\0' && a[n] == b[n]) {
        if (a[n] == '.' && ++dots == 2) {
            return 1;
        }
        n++;
    }
    /* one ended where the other has ".patch", or both ended */
    return dots == 1 && (a[n] == '\0' || a[n] == '.') &&
           (b[n] == '\0' || b[n] == '.');
}

const char *
am_venv_python(void)
{
    return "Python " AM_PYTHON_VERSION " (" AM_PYTHON_EXE ")";
}

int
am_venv_check(const am_conf_t *conf, char *err, size_t size)
{
    char path[PATH_MAX + 16], line[PATH_MAX + 64], version[64] = "",
                                                   home[PATH_MAX] = "";
    char a[PATH_MAX], b[PATH_MAX], exedir[PATH_MAX], exe[PATH_MAX + 64];
    char mm[32], *k, *v, *end;
    size_t n;
    FILE *fp;

    if (conf->virtualenv == NULL) {
        return AM_OK;
    }
    snprintf(path, sizeof(path), "%s/pyvenv.cfg", conf->virtualenv);
    fp = fopen(path, "re");
    if (fp == NULL) {
        return AM_OK; /* not a venv (a prefix): pyembed.c reports it */
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        k = line + strspn(line, " \t");
        v = strchr(k, '=');
        if (v == NULL) {
            continue;
        }
        for (end = v; end > k && (end[-1] == ' ' || end[-1] == '\t');) {
            end--;
        }
        *end = '\0';
        v++;
        v += strspn(v, " \t");
        v[strcspn(v, "\r\n")] = '\0';
        if (strcmp(k, "version") == 0 || strcmp(k, "version_info") == 0) {
            snprintf(version, sizeof(version), "%s", v);
        } else if (strcmp(k, "home") == 0) {
            snprintf(home, sizeof(home), "%s", v);
        }
    }
    fclose(fp);

    if (version[0] != '\0' && !venv_same_minor(version, AM_PYTHON_VERSION)) {
        /* "3.12.1.final.0" -> "3.12": the interpreter's name */
        n = strcspn(version, ".");
        n += version[n] == '.' ? 1 + strcspn(version + n + 1, ".") : 0;
        snprintf(mm, sizeof(mm), "%.*s", (int)n, version);
        snprintf(exe, sizeof(exe), "%s%spython%s", home, home[0] ? "/" : "",
                 mm);
        snprintf(err, size,
                 "virtualenv \"%s\" is made by Python %s, but asgimaster "
                 "embeds Python " AM_PYTHON_VERSION " (" AM_PYTHON_EXE "): "
                 "rebuild with \"make PYTHON=%s\", or make the "
                 "virtualenv with " AM_PYTHON_EXE,
                 conf->virtualenv, version, exe);
        return AM_ERROR;
    }

    /* Same version, another build (a pyenv venv under Debian's
     * libpython): its stdlib would mix into ours. */
    snprintf(exedir, sizeof(exedir), "%s", AM_PYTHON_EXE);
    if (strrchr(exedir, '/') != NULL) {
        *strrchr(exedir, '/') = '\0';
    }
    if (home[0] != '\0' && realpath(home, a) != NULL &&
        realpath(exedir, b) != NULL && strcmp(a, b) != 0) {
        snprintf(err, size,
                 "virtualenv \"%s\" is made by the Python in %s, but "
                 "asgimaster embeds " AM_PYTHON_EXE " (" AM_PYTHON_VERSION
                 "): rebuild with \"make PYTHON=%s/python3\" or make the "
                 "virtualenv with " AM_PYTHON_EXE,
                 conf->virtualenv, home, home);
        return AM_ERROR;
    }
    return AM_OK;
}
