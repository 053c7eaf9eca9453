/*
 * socket.c - vme_send, vme_recv and their to/from/msg forms.
 *
 * Sockets have no page cache: the only thing vmemu adds is faulting in the
 * program's emulated buffers (the data, the address, the control data and
 * the msghdr itself) before the host sees them, so that a buffer Linux
 * would accept is never EFAULT.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <vmemu.h>
#include "api/api.h"
#include "api/uio.h"
#include "mm/mm.h"

/* The address arguments are glibc's transparent unions (we build with
 * _GNU_SOURCE); __sockaddr__ is their struct sockaddr pointer. */
VME_EXPORT ssize_t vme_sendto(int sockfd, const void *buf, size_t len, int flags,
			      __CONST_SOCKADDR_ARG dest, socklen_t addrlen)
{
	const struct sockaddr *dest_addr = dest.__sockaddr__;
	struct vme_call call;
	struct user_iov u;
	int tries = 0;
	ssize_t r;

	if ((r = vme_enter(&call)))
		return api_ret((int)r);
	user_iov_single(&u, buf, len);
	user_iov_fault_in(&u, false);
	if (dest_addr)
		fault_in_user(&init_mm, dest_addr, addrlen, false);
	do
		r = host_user_sendto(sockfd, buf, len, flags, dest_addr, addrlen);
	while (user_iov_retry(&u, r, &tries, false));
	vme_leave(&call);
	return r < 0 ? api_ret((int)r) : r;
}

VME_EXPORT ssize_t vme_send(int sockfd, const void *buf, size_t len, int flags)
{
	return vme_sendto(sockfd, buf, len, flags, NULL, 0);
}

VME_EXPORT ssize_t vme_recvfrom(int sockfd, void *buf, size_t len, int flags,
				__SOCKADDR_ARG src, socklen_t *addrlen)
{
	struct sockaddr *src_addr = src.__sockaddr__;
	struct vme_call call;
	struct user_iov u;
	int tries = 0;
	ssize_t r;

	if ((r = vme_enter(&call)))
		return api_ret((int)r);
	user_iov_single(&u, buf, len);
	user_iov_fault_in(&u, true);
	if (addrlen) {
		socklen_t n = 0;
		fault_in_user(&init_mm, addrlen, sizeof(*addrlen), true);
		if (src_addr && !copy_from_user(&init_mm, &n, addrlen, sizeof(n)))
			fault_in_user(&init_mm, src_addr, n, true);
	}
	do
		r = host_user_recvfrom(sockfd, buf, len, flags, src_addr, addrlen);
	while (user_iov_retry(&u, r, &tries, true));
	vme_leave(&call);
	return r < 0 ? api_ret((int)r) : r;
}

VME_EXPORT ssize_t vme_recv(int sockfd, void *buf, size_t len, int flags)
{
	return vme_recvfrom(sockfd, buf, len, flags, NULL, NULL);
}

/* sendmsg (write false) and recvmsg (true): the msghdr and its iovecs are
 * copied in, every buffer they name faulted in, and for recvmsg the lengths
 * and flags the host set are copied back out. */
static ssize_t msg_common(int sockfd, struct msghdr *umsg, int flags, bool recv)
{
	struct vme_call call;
	struct msghdr msg;
	struct user_iov u;
	int tries = 0;
	ssize_t r;

	if ((r = vme_enter(&call)))
		return api_ret((int)r);
	/* copied as the kernel copies it: a bad pointer is the host's EFAULT */
	if (!umsg || copy_from_user(&init_mm, &msg, umsg, sizeof(msg)))
		goto host_only;
	if ((r = user_iov_import(&u, msg.msg_iov, (int)msg.msg_iovlen)))
		goto out;
	user_iov_fault_in(&u, recv);
	if (msg.msg_name)
		fault_in_user(&init_mm, msg.msg_name, msg.msg_namelen, recv);
	if (msg.msg_control)
		fault_in_user(&init_mm, msg.msg_control, msg.msg_controllen, recv);
	struct msghdr host = msg;
	host.msg_iov = u.iov;
	do
		r = recv ? host_user_recvmsg(sockfd, &host, flags) : host_user_sendmsg(sockfd, &host, flags);
	while (user_iov_retry(&u, r, &tries, recv));
	user_iov_release(&u);
	if (recv && r >= 0) {
		/* what recvmsg writes back: the lengths and the flags */
		msg.msg_namelen = host.msg_namelen;
		msg.msg_controllen = host.msg_controllen;
		msg.msg_flags = host.msg_flags;
		int e = copy_to_user(&init_mm, umsg, &msg, sizeof(msg));
		if (e)
			r = e;
	}
	goto out;

host_only:
	r = recv ? host_user_recvmsg(sockfd, umsg, flags) : host_user_sendmsg(sockfd, umsg, flags);
out:
	vme_leave(&call);
	return r < 0 ? api_ret((int)r) : r;
}

VME_EXPORT ssize_t vme_sendmsg(int sockfd, const struct msghdr *msg, int flags)
{
	return msg_common(sockfd, (struct msghdr *)msg, flags, false);
}

VME_EXPORT ssize_t vme_recvmsg(int sockfd, struct msghdr *msg, int flags)
{
	return msg_common(sockfd, msg, flags, true);
}
