/* tests/unit/unit.h: a tiny unit test runner, one header per test program.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A test program includes this header once and defines its tests with
 * TEST(name) { ... }. main() (defined here) runs each test in a forked
 * child under an alarm() timeout, so a crash, a hang or a sanitizer report
 * (LeakSanitizer reports at the child's exit) fails that test only. It
 * prints one line per test and then "test_conf: 42 passed, 0 failed", and
 * exits 1 when any failed. `test_conf NAME...` runs only the tests named.
 *
 * ASSERT_* print both sides and end the test at the first failure.
 */
#ifndef AM_TESTS_UNIT_UNIT_H
#define AM_TESTS_UNIT_UNIT_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define UNIT_MAX     512
#define UNIT_TIMEOUT 10 /* seconds per test */

typedef struct {
    const char *name;
    void (*fn)(void);
} unit_test_t;

static unit_test_t unit_tests[UNIT_MAX];
static int unit_ntests;

static void
unit_register(const char *name, void (*fn)(void))
{
    if (unit_ntests == UNIT_MAX) {
        fprintf(stderr, "unit.h: more than %d tests\n", UNIT_MAX);
        abort();
    }
    unit_tests[unit_ntests].name = name;
    unit_tests[unit_ntests].fn = fn;
    unit_ntests++;
}

#define TEST(name)                                                             \
    static void test_##name(void);                                             \
    __attribute__((constructor)) static void unit_register_##name(void)        \
    {                                                                          \
        unit_register(#name, test_##name);                                     \
    }                                                                          \
    static void test_##name(void)

static void
unit_fail(const char *file, int line)
{
    fprintf(stderr, "  at %s:%d\n", file, line);
    fflush(stderr);
    exit(1);
}

#define ASSERT_TRUE(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "  ASSERT_TRUE(%s) failed\n", #cond);              \
            unit_fail(__FILE__, __LINE__);                                     \
        }                                                                      \
    } while (0)

#define ASSERT_EQ(a, b)                                                        \
    do {                                                                       \
        long long unit_a_ = (long long)(a), unit_b_ = (long long)(b);          \
        if (unit_a_ != unit_b_) {                                              \
            fprintf(stderr,                                                    \
                    "  ASSERT_EQ(%s, %s) failed\n    left:  %lld\n"            \
                    "    right: %lld\n",                                       \
                    #a, #b, unit_a_, unit_b_);                                 \
            unit_fail(__FILE__, __LINE__);                                     \
        }                                                                      \
    } while (0)

#define ASSERT_NE(a, b)                                                        \
    do {                                                                       \
        long long unit_a_ = (long long)(a), unit_b_ = (long long)(b);          \
        if (unit_a_ == unit_b_) {                                              \
            fprintf(stderr, "  ASSERT_NE(%s, %s) failed: both %lld\n", #a, #b, \
                    unit_a_);                                                  \
            unit_fail(__FILE__, __LINE__);                                     \
        }                                                                      \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                    \
    do {                                                                       \
        const char *unit_a_ = (a), *unit_b_ = (b);                             \
        if (unit_a_ == NULL || unit_b_ == NULL                                 \
                ? unit_a_ != unit_b_                                           \
                : strcmp(unit_a_, unit_b_) != 0) {                             \
            fprintf(stderr,                                                    \
                    "  ASSERT_STR_EQ(%s, %s) failed\n    left:  %s%s%s\n"      \
                    "    right: %s%s%s\n",                                     \
                    #a, #b, unit_a_ ? "\"" : "", unit_a_ ? unit_a_ : "NULL",   \
                    unit_a_ ? "\"" : "", unit_b_ ? "\"" : "",                  \
                    unit_b_ ? unit_b_ : "NULL", unit_b_ ? "\"" : "");          \
            unit_fail(__FILE__, __LINE__);                                     \
        }                                                                      \
    } while (0)

static int
unit_selected(int argc, char **argv, const char *name)
{
    if (argc < 2) {
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    const char *prog =
        strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    int passed = 0, failed = 0, status;
    pid_t pid;

    for (int i = 0; i < unit_ntests; i++) {
        if (!unit_selected(argc, argv, unit_tests[i].name)) {
            continue;
        }
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid == -1) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            alarm(UNIT_TIMEOUT);
            unit_tests[i].fn();
            exit(0); /* exit, not _exit: LeakSanitizer runs at exit */
        }
        while (waitpid(pid, &status, 0) == -1) {
            /* EINTR only: the child is ours */
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            printf("ok   %s\n", unit_tests[i].name);
            passed++;
        } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
            printf("FAIL %s (timed out after %ds)\n", unit_tests[i].name,
                   UNIT_TIMEOUT);
            failed++;
        } else if (WIFSIGNALED(status)) {
            printf("FAIL %s (signal %d: %s)\n", unit_tests[i].name,
                   WTERMSIG(status), strsignal(WTERMSIG(status)));
            failed++;
        } else {
            printf("FAIL %s (exit code %d)\n", unit_tests[i].name,
                   WEXITSTATUS(status));
            failed++;
        }
    }
    printf("%s: %d passed, %d failed\n", prog, passed, failed);
    fflush(stdout);
    return failed ? 1 : 0;
}

#endif
