/*
 * cps-harness: keep vsmartcard's vpcd on loopback. Preloaded (LD_PRELOAD) into the private pcscd only.
 *
 * vpcd (virtualsmartcard <= 0.8, Debian's vsmartcard-vpcd 3.3) binds its card ports on INADDR_ANY,
 * with no option to do otherwise: any host that reaches the machine could plug a card into a
 * test's reader. Its driver resolves bind() through pcscd's global scope, where libc comes before
 * any library pcscd loads later, so only a preloaded object can step in. This bind() turns an IPv4
 * "any address" into 127.0.0.1 and leaves every other call as it was.
 *
 * Why not vpcd's reversed mode (vpcd connects out to a listening card)? In virtualsmartcard <= 0.8
 * it aborts pcscd at the first reconnection (FD_SET(-1) under _FORTIFY_SOURCE); see
 * docs/reliability.md.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_function)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *address, socklen_t length)
{
    static bind_function real_bind;
    struct sockaddr_in loopback;

    if (real_bind == NULL) {
        real_bind = (bind_function)dlsym(RTLD_NEXT, "bind");
        if (real_bind == NULL) {
            errno = ENOSYS;
            return -1;
        }
    }
    if (address != NULL && address->sa_family == AF_INET && length >= sizeof loopback) {
        memcpy(&loopback, address, sizeof loopback);
        if (loopback.sin_addr.s_addr == htonl(INADDR_ANY)) {
            loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (const struct sockaddr *)&loopback, sizeof loopback);
        }
    }
    return real_bind(fd, address, length);
}
