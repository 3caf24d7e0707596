/* Unit tests for socket activation (listen.c): the sd_listen_fds protocol as systemd
 * speaks it, with real sockets placed at descriptors 3 and 4. */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sluice/listen.h"

static int fds[SL_LISTENERS_MAX];
static unsigned count;
static char err[256];

/* Puts a socket of the given kind at descriptor `at`. */
static void place(int at, int domain, int type, bool listening)
{
    int fd = socket(domain, type, 0);
    assert_true(fd >= 0);
    if (domain == AF_INET) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    } else if (domain == AF_UNIX) {
        struct sockaddr_un a = {.sun_family = AF_UNIX}; /* autobind: an abstract name */
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(sa_family_t)), 0);
    }
    if (listening)
        assert_int_equal(listen(fd, 8), 0);
    if (fd != at) {
        assert_int_equal(dup2(fd, at), at);
        close(fd);
    }
}

static void set_env(const char *pid, const char *n)
{
    char self[32];
    snprintf(self, sizeof(self), "%ld", (long)getpid());
    setenv("LISTEN_PID", pid ? pid : self, 1);
    setenv("LISTEN_FDS", n, 1);
    setenv("LISTEN_FDNAMES", "web", 1);
}

static int inherit(void)
{
    err[0] = '\0';
    memset(fds, -1, sizeof(fds));
    return sl_listen_inherited(fds, SL_LISTENERS_MAX, &count, err, sizeof(err));
}

static void assert_env_cleared(void)
{
    assert_null(getenv("LISTEN_PID"));
    assert_null(getenv("LISTEN_FDS"));
    assert_null(getenv("LISTEN_FDNAMES"));
}

static int teardown(void **state)
{
    close(3);
    close(4);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return 0;
}

static void test_no_environment_means_no_activation(void **state)
{
    assert_int_equal(inherit(), 0);
    assert_int_equal(count, 0);
}

static void test_sockets_for_another_pid_are_ignored_and_the_variables_removed(void **state)
{
    place(3, AF_INET, SOCK_STREAM, true);
    set_env("1", "1");
    assert_int_equal(inherit(), 0);
    assert_int_equal(count, 0);
    assert_env_cleared();
}

static void test_passed_sockets_are_taken_nonblocking_and_close_on_exec(void **state)
{
    place(3, AF_INET, SOCK_STREAM, true);
    place(4, AF_INET, SOCK_STREAM, true);
    set_env(NULL, "2");
    assert_int_equal(inherit(), 0);
    assert_int_equal(count, 2);
    assert_int_equal(fds[0], 3);
    assert_int_equal(fds[1], 4);
    for (int fd = 3; fd <= 4; fd++) {
        assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    }
    assert_env_cleared();
}

static void test_a_descriptor_that_is_not_a_listening_tcp_socket_is_an_error(void **state)
{
    static const struct {
        int domain, type;
        bool listening;
    } kinds[] = {
        {AF_INET, SOCK_STREAM, false}, /* not listening */
        {AF_INET, SOCK_DGRAM, false},  /* not a stream */
        {AF_UNIX, SOCK_STREAM, true},  /* not TCP */
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        place(3, kinds[i].domain, kinds[i].type, kinds[i].listening);
        set_env(NULL, "1");
        assert_int_equal(inherit(), -1);
        assert_non_null(strstr(err, "descriptor 3 from the service manager is not"));
        assert_env_cleared();
    }
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(dup2(p[0], 3), 3);
    close(p[0]);
    close(p[1]);
    set_env(NULL, "1");
    assert_int_equal(inherit(), -1);
}

static void test_a_bad_count_is_an_error(void **state)
{
    place(3, AF_INET, SOCK_STREAM, true);
    const char *bad[] = {"0", "", "x", "1x", "-1", "17"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        set_env(NULL, bad[i]);
        assert_int_equal(inherit(), -1);
        assert_non_null(strstr(err, "LISTEN_FDS"));
    }
}

static void test_share_gives_each_loop_its_own_descriptor_of_each_socket(void **state)
{
    place(3, AF_INET, SOCK_STREAM, true);
    place(4, AF_INET, SOCK_STREAM, true);
    int in[2] = {3, 4};
    int out[6];
    assert_int_equal(sl_listen_share(in, 2, 3, out, err, sizeof(err)), 0);
    assert_int_equal(out[0], 3);
    assert_int_equal(out[1], 4);
    for (int i = 2; i < 6; i++) {
        assert_true(out[i] > 4);
        assert_true(fcntl(out[i], F_GETFD) & FD_CLOEXEC);
        struct sockaddr_in a, b;
        socklen_t la = sizeof(a), lb = sizeof(b);
        assert_int_equal(getsockname(out[i], (struct sockaddr *)&a, &la), 0);
        assert_int_equal(getsockname(in[i % 2], (struct sockaddr *)&b, &lb), 0);
        assert_int_equal(a.sin_port, b.sin_port); /* the same socket */
        close(out[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_no_environment_means_no_activation, teardown),
        cmocka_unit_test_teardown(
            test_sockets_for_another_pid_are_ignored_and_the_variables_removed, teardown),
        cmocka_unit_test_teardown(test_passed_sockets_are_taken_nonblocking_and_close_on_exec,
                                  teardown),
        cmocka_unit_test_teardown(test_a_descriptor_that_is_not_a_listening_tcp_socket_is_an_error,
                                  teardown),
        cmocka_unit_test_teardown(test_a_bad_count_is_an_error, teardown),
        cmocka_unit_test_teardown(test_share_gives_each_loop_its_own_descriptor_of_each_socket,
                                  teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
