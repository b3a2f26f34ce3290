/* common/cpus.c: CPUs this process may use: the affinity mask, capped by
 * the cgroup CPU quota (what a container with --cpus=N sees). */

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/core.h"
#include "common/cpus.h"

#define CPUS_PATH_MAX 4096

/* A quota/period pair as CPUs (rounded up), or 0 for "no limit". */
static int
cpus_from_quota(long long quota, long long period)
{
    if (quota <= 0 || period <= 0) {
        return 0;
    }
    return (int)((quota + period - 1) / period);
}

static int
cpus_read_v2(const char *dir)
{
    char path[CPUS_PATH_MAX + 16], max[32];
    long long quota, period;
    FILE *fp;
    int n = 0;

    snprintf(path, sizeof(path), "%s/cpu.max", dir);
    fp = fopen(path, "re");
    if (fp == NULL) {
        return 0;
    }
    if (fscanf(fp, "%31s %lld", max, &period) == 2 && strcmp(max, "max") != 0) {
        quota = atoll(max);
        n = cpus_from_quota(quota, period);
    }
    fclose(fp);
    return n;
}

static long long
cpus_read_ll(const char *dir, const char *file)
{
    char path[CPUS_PATH_MAX + 32];
    long long v = -1;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    fp = fopen(path, "re");
    if (fp == NULL) {
        return -1;
    }
    if (fscanf(fp, "%lld", &v) != 1) {
        v = -1;
    }
    fclose(fp);
    return v;
}

static int
cpus_read_v1(const char *dir)
{
    return cpus_from_quota(cpus_read_ll(dir, "cpu.cfs_quota_us"),
                           cpus_read_ll(dir, "cpu.cfs_period_us"));
}

/* Does a v1 mount's super options name the "cpu" controller? */
static int
cpus_has_cpu(const char *opts)
{
    char copy[256], *save, *o;

    snprintf(copy, sizeof(copy), "%s", opts);
    for (o = strtok_r(copy, ",", &save); o != NULL;
         o = strtok_r(NULL, ",", &save)) {
        if (strcmp(o, "cpu") == 0) {
            return 1;
        }
    }
    return 0;
}

/* The smallest quota on the way from the process's cgroup up to the root
 * of the hierarchy mounted at mnt (whose root is mroot). */
static int
cpus_walk(const char *mnt, const char *mroot, const char *cg, int v2)
{
    char dir[CPUS_PATH_MAX], rel[CPUS_PATH_MAX], *slash;
    size_t rootlen = strlen(mroot);
    int best = 0, n;

    if (strcmp(mroot, "/") == 0) {
        rootlen = 0;
    } else if (strncmp(cg, mroot, rootlen) != 0) {
        return 0;
    }
    snprintf(rel, sizeof(rel), "%s", cg + rootlen);
    for (;;) {
        snprintf(dir, sizeof(dir), "%s%s", mnt, rel);
        n = v2 ? cpus_read_v2(dir) : cpus_read_v1(dir);
        if (n > 0 && (best == 0 || n < best)) {
            best = n;
        }
        slash = strrchr(rel, '/');
        if (slash == NULL || rel[0] == '\0') {
            break;
        }
        *slash = '\0';
    }
    return best;
}

static int
cpus_cgroup_quota(void)
{
    char line[CPUS_PATH_MAX], v1path[CPUS_PATH_MAX] = "",
                              v2path[CPUS_PATH_MAX] = "";
    char root[CPUS_PATH_MAX], mnt[CPUS_PATH_MAX], fstype[64], opts[256];
    char *p, *sep;
    int best = 0, n, have_v1 = 0, have_v2 = 0;
    FILE *fp;

    fp = fopen("/proc/self/cgroup", "re");
    if (fp == NULL) {
        return 0;
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        p = strchr(line, ':');
        if (p == NULL || (sep = strchr(p + 1, ':')) == NULL) {
            continue;
        }
        *sep = '\0';
        if (strcmp(line, "0") == 0 && p[1] == '\0') {
            snprintf(v2path, sizeof(v2path), "%s", sep + 1);
            have_v2 = 1;
        } else if (cpus_has_cpu(p + 1)) {
            snprintf(v1path, sizeof(v1path), "%s", sep + 1);
            have_v1 = 1;
        }
    }
    fclose(fp);

    fp = fopen("/proc/self/mountinfo", "re");
    if (fp == NULL) {
        return 0;
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        /* id parent maj:min root mountpoint opts... - fstype src super */
        sep = strstr(line, " - ");
        if (sep == NULL ||
            sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
            sscanf(sep + 3, "%63s %*s %255s", fstype, opts) != 2) {
            continue;
        }
        n = 0;
        if (have_v2 && strcmp(fstype, "cgroup2") == 0) {
            n = cpus_walk(mnt, root, v2path, 1);
        } else if (have_v1 && strcmp(fstype, "cgroup") == 0 &&
                   cpus_has_cpu(opts)) {
            n = cpus_walk(mnt, root, v1path, 0);
        }
        if (n > 0 && (best == 0 || n < best)) {
            best = n;
        }
    }
    fclose(fp);
    return best;
}

int
am_cpus_usable(void)
{
    cpu_set_t set;
    long online;
    int n, quota;

    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        n = CPU_COUNT(&set);
    } else {
        online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (int)online : 1;
    }
    quota = cpus_cgroup_quota();
    if (quota > 0 && quota < n) {
        n = quota;
    }
    return am_max(n, 1);
}
