/* common/cpus.h: how many CPUs this process may use.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * "workers: auto" counts these, not the host's: the CPUs of the affinity
 * mask (taskset, cpuset), capped by the CPU bandwidth quota of the
 * process's cgroup and its parents (cgroup v2 cpu.max, v1
 * cpu.cfs_quota_us / cpu.cfs_period_us), rounded up. Always >= 1.
 */
#ifndef AM_COMMON_CPUS_H
#define AM_COMMON_CPUS_H

int am_cpus_usable(void);

#endif
