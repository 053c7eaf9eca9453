/*
 * init.c - vme_init, vme_shutdown, vme_stats, vme_dump_maps.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <vmemu.h>
#include "api/api.h"
#include "mm/mm.h"
#include "mm/vmstat.h"

static DEFINE_MUTEX(init_lock);
static bool initialised;

/* Options: each field of struct vme_config, with its VMEMU_<NAME> variable. */
static int option_int(int explicit_value, const char *env, int dflt)
{
	const char *s;

	if (explicit_value)
		return explicit_value;
	if ((s = host_getenv(env)) && *s)
		return atoi(s);
	return dflt;
}

static unsigned long option_ulong(unsigned long explicit_value, const char *env)
{
	const char *s;

	if (explicit_value)
		return explicit_value;
	if ((s = host_getenv(env)) && *s)
		return strtoul(s, NULL, 10);
	return 0;
}

/* vme_config.domain, else VMEMU_DOMAIN, else "default". */
static const char *option_domain(const char *explicit_value)
{
	const char *s;

	if (explicit_value && *explicit_value)
		return explicit_value;
	if ((s = host_getenv("VMEMU_DOMAIN")) && *s)
		return s;
	return "default";
}

/* VMEMU_SWAP, else a temporary file in $TMPDIR or /var/tmp. */
static const char *option_swap(const char *explicit_value)
{
	const char *s;

	if (explicit_value && *explicit_value)
		return explicit_value;
	if ((s = host_getenv("VMEMU_SWAP")) && *s)
		return s;
	if ((s = host_getenv("TMPDIR")) && *s)
		return s;
	return "/var/tmp";
}

/* VMEMU_VERBOSE: the counters on stderr, one "vmemu: name value" a line. */
static void report_counters(void)
{
	if (!mm_verbose)
		return;
#define X(name) host_write_num("vmemu: " #name " ", vm_event(EV_##name));
	VM_EVENT_ITEMS(X)
#undef X
}

/* At exit(3), as the kernel's page cache would outlive the process, every
 * dirty page reaches its file.  (_exit, a crash or a kill lose them.) */
static void writeback_at_exit(void)
{
	sigset_t saved;

	if (!vme_initialised())
		return;
	host_trap_enter_emulator(&saved);
	mmap_write_lock();
	if (mm_writeback_all())	/* nobody is left to return an error to */
		host_write_str("vmemu: write-back at exit failed; some data did not reach its file\n");
	domain_exit();
	mmap_write_unlock();
	report_counters();
	host_trap_leave_emulator(&saved);
}

static int init_locked(const struct vme_config *cfg)
{
	static bool atexit_registered;
	struct vme_config zero = { 0 };

	host_check_link();
	if (!cfg)
		cfg = &zero;
	int r = mm_init(option_int(cfg->verbose, "VMEMU_VERBOSE", 0),
			option_ulong(cfg->cache_mb, "VMEMU_CACHE_MB"), option_swap(cfg->swap),
			option_domain(cfg->domain));
	if (r)
		return r;
	if (!atexit_registered && atexit(writeback_at_exit) == 0)
		atexit_registered = true;
	__atomic_store_n(&initialised, true, __ATOMIC_RELEASE);
	return 0;
}

bool vme_initialised(void)
{
	return __atomic_load_n(&initialised, __ATOMIC_ACQUIRE);
}

VME_EXPORT int vme_init(const struct vme_config *cfg)
{
	int r = 0;

	mutex_lock(&init_lock);
	if (initialised)
		r = cfg ? -EBUSY : 0;
	else
		r = init_locked(cfg);
	mutex_unlock(&init_lock);
	return api_ret(r);
}

int vme_enter(struct vme_call *call)
{
	int r = 0;

	if (!vme_initialised()) {
		mutex_lock(&init_lock);
		if (!initialised)
			r = init_locked(NULL);
		mutex_unlock(&init_lock);
		if (r)
			return r;
	}
	host_trap_enter_emulator(&call->saved_mask);
	mm_maybe_catch_up();
	return 0;
}

void vme_leave(struct vme_call *call)
{
	host_trap_leave_emulator(&call->saved_mask);
}

VME_EXPORT int vme_shutdown(void)
{
	struct vme_call call;
	int r = 0;

	mutex_lock(&init_lock);
	if (initialised) {
		host_trap_enter_emulator(&call.saved_mask);
		mmap_write_lock();
		r = mm_exit();
		mmap_write_unlock();
		if (!r)
			report_counters();
		host_trap_leave_emulator(&call.saved_mask);
		if (!r)
			__atomic_store_n(&initialised, false, __ATOMIC_RELEASE);
	}
	mutex_unlock(&init_lock);
	return api_ret(r);
}

VME_EXPORT int vme_stats(struct vme_stats *out)
{
	struct vme_stats s = { 0 };
	struct vme_call call;
	int r;

	if ((r = vme_enter(&call)))
		return api_ret(r);
#define X(name) s.name = vm_event(EV_##name);
	VM_EVENT_ITEMS(X)
#undef X
	mmap_read_lock();
	s.nr_vmas = init_mm.map_count;
	s.nr_resident = nr_resident_pages();
	s.nr_budget = nr_budget_pages();
	s.nr_swap = nr_swap_pages();
	s.nr_host_vmas = nr_host_mappings();
	s.nr_cached = nr_cached_pages();
	for (struct address_space *m = init_mm.mappings; m; m = m->next)
		s.nr_mapped_files++;
	mmap_read_unlock();
	r = copy_to_user(&init_mm, out, &s, sizeof(s));	/* EFAULT for a bad out */
	vme_leave(&call);
	return api_ret(r);
}

/* One line of /proc/self/maps (show_map_vma). */
static int format_vma(char *buf, size_t size, const struct vm_area_struct *vma)
{
	const struct address_space *mapping = vma->vm_file ? vma->vm_file->f_mapping : NULL;
	unsigned long f = vma->vm_flags;
	int n = snprintf(buf, size, "%08lx-%08lx %c%c%c%c %08lx %02x:%02x %lu ",
			 vma->vm_start, vma->vm_end, f & VM_READ ? 'r' : '-', f & VM_WRITE ? 'w' : '-',
			 f & VM_EXEC ? 'x' : '-', f & VM_MAYSHARE ? 's' : 'p',
			 vma->vm_file ? vma->vm_pgoff << PAGE_SHIFT : 0,
			 mapping ? major((dev_t)mapping->host->dev) : 0,
			 mapping ? minor((dev_t)mapping->host->dev) : 0,
			 mapping ? (unsigned long)mapping->host->ino : 0);
	const char *name = vma->vm_file ? vma->vm_file->f_path : vma_is_heap(&init_mm, vma) ? "[heap]" : NULL;
	if (name)
		n += snprintf(buf + n, size - (size_t)n, "%*s%s", n < 73 ? 73 - n : 0, "", name);
	n += snprintf(buf + n, size - (size_t)n, "\n");
	return n < (int)size ? n : (int)size - 1;
}

VME_EXPORT int vme_dump_maps(int fd)
{
	struct vme_call call;
	char *out = NULL, line[4200];
	size_t len = 0;
	int r;

	if ((r = vme_enter(&call)))
		return api_ret(r);
	mmap_read_lock();
	out = malloc(init_mm.map_count * sizeof(line) + 1);
	for (size_t i = 0; out && i < init_mm.map_count; i++) {
		int n = format_vma(line, sizeof(line), init_mm.vmas[i]);
		memcpy(out + len, line, (size_t)n);
		len += (size_t)n;
	}
	mmap_read_unlock();
	vme_leave(&call);
	if (!out && init_mm.map_count)
		return api_ret(-ENOMEM);
	for (size_t done = 0; done < len;) {
		ssize_t n = host_user_write(fd, out + done, len - done);
		if (n == -EINTR)
			continue;
		if (n < 0) {
			r = (int)n;
			break;
		}
		done += (size_t)n;
	}
	free(out);
	return api_ret(r);
}
