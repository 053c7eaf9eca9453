/*
 * fork_release.c - fork no longer pins page caches: a child gets a slot of
 * its own, holding what it inherited, and lets go of it when it leaves.
 * After the child is gone, a process with a small budget (4 MiB) reads a
 * file six times its budget, twice, with no SIGBUS: its reclaim can evict
 * the frames it shared with the child.
 *
 * The child leaves in each of the ways a process can: exit(3), _exit(2),
 * killed, and exec (fork+exec, as system(3) and popen(3) do).  Only exit(3)
 * runs vmemu's detach; the others leave the slot to be reaped, which is
 * what docs/design.md promises ("a child that exits takes its bits with
 * it"; "if the child execs, close-on-exec does").
 */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <signal.h>
#include <vmemu.h>

#include "peer.h"

#define BUDGET_MB 4
#define FILE_PAGES (6 * BUDGET_MB * 256)
#define PREFORK_PAGES 512	/* held by parent and child at the fork */

enum leave { LEAVE_EXIT, LEAVE__EXIT, LEAVE_KILLED, LEAVE_EXEC };

static sigjmp_buf bus_env;
static volatile void *bus_addr;

static void on_sigbus(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	bus_addr = info->si_addr;
	siglongjmp(bus_env, sig);
}

static void read_after_child(enum leave how, const char *tag)
{
	char dname[64];
	struct sigaction sa;

	test_domain(dname, sizeof(dname), tag);
	join_domain(dname, BUDGET_MB);
	int fd = pattern_file(FILE_PAGES * PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, FILE_PAGES * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	for (size_t i = 0; i < PREFORK_PAGES; i++)
		(void)p[i * PG];

	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		(void)p[PG];
		switch (how) {
		case LEAVE_EXIT:
			exit(0);
		case LEAVE__EXIT:
			_exit(0);
		case LEAVE_KILLED:
			kill(getpid(), SIGKILL);
			_exit(1);
		case LEAVE_EXEC:
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGBUS, &sa, NULL), 0);
	if (sigsetjmp(bus_env, 1)) {
		struct vme_stats s;
		vme_stats(&s);
		cr_assert_fail("SIGBUS at page %ld of %d after the child left (resident %lu of %lu, pool %lu, "
			       "evicted %lu): the frames it shared with the child are still pinned",
			       (long)(((volatile unsigned char *)bus_addr - p) / (long)PG), FILE_PAGES,
			       (unsigned long)s.nr_resident, (unsigned long)s.nr_budget, (unsigned long)s.nr_cached,
			       (unsigned long)s.pgevict);
	}
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < FILE_PAGES; i += 1)
			cr_assert_eq(p[i * PG + 11], pattern_byte(i * PG + 11), "round %d page %zu", round, i);
	struct vme_stats s;
	cr_assert_eq(vme_stats(&s), 0);
	cr_assert_leq(s.nr_resident, s.nr_budget);
	vme_munmap((void *)p, FILE_PAGES * PG);
	close(fd);
}

Test(fork_release, a_child_that_exits_leaves_its_parents_caches_reclaimable, .fini = remove_test_domains,
     .timeout = 60)
{
	read_after_child(LEAVE_EXIT, "rel-exit");
}

/* The three below: a child that leaves without exit(3) keeps its slot in
 * the domain's live mask, and its bits in the frames' `mapped` masks, until
 * someone reaps it.  The parent's allocation, when reclaim frees nothing,
 * reaps the dead (alloc_pages_run -> domain_reap_dead), and the frames the
 * child pinned are the parent's to reclaim again.  (Before, each
 * allocation's sixteen tries were spent dropping slots of frames the dead
 * child pinned, and the access got SIGBUS.) */
Test(fork_release, a_child_that__exits_does_not_pin_its_parents_caches, .fini = remove_test_domains, .timeout = 60)
{
	read_after_child(LEAVE__EXIT, "rel-_exit");
}

Test(fork_release, a_child_killed_does_not_pin_its_parents_caches, .fini = remove_test_domains, .timeout = 60)
{
	read_after_child(LEAVE_KILLED, "rel-kill");
}

Test(fork_release, a_child_that_execs_does_not_pin_its_parents_caches, .fini = remove_test_domains, .timeout = 60)
{
	read_after_child(LEAVE_EXEC, "rel-exec");
}
