/*
 * device.c - mappings of user-space devices (a driver's file_operations->mmap
 * and vm_operations_struct).
 *
 * A device's page cache is an anonymous inode of the domain (the program's
 * descriptor is a memfd that only names it): filemap_fault fills a page
 * once, through the driver's fill hook instead of pread, into a frame of the
 * pool that every mapping of the device shares.  Its pages are never
 * evicted: the driver made them, nobody could make them again.  A driver with a mkwrite hook gets write-notify:
 * its shared pages start read-only, the first write calls it, and msync (MS_SYNC)
 * write-protects written pages again (its "write-back" has nothing to
 * write), as Linux's framebuffer deferred I/O does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host/host.h"
#include "mm/mm.h"

/* handler-safe */
static int device_readpage(struct fault *vmf, char *dst)
{
	struct device *dev = vmf->vma->vm_file->f_mapping->device;

	return dev->fill(dev, vmf, dst);
}

/* Nothing to write: cleaning the pages (done by the caller) is the point. */
static int device_writepages(struct address_space *mapping, unsigned long pgoff, const unsigned long *pfn,
			     unsigned int nr, unsigned int *written)
{
	(void)mapping, (void)pgoff, (void)pfn;
	*written = nr;
	return 0;
}

static const struct address_space_operations device_aops = {
	.readpage = device_readpage,
	.writepages = device_writepages,
};

/* handler-safe: called with the page locked; the driver first, then dirty. */
static int device_page_mkwrite(struct fault *vmf)
{
	struct address_space *mapping = vmf->vma->vm_file->f_mapping;
	int r = mapping->device->mkwrite(mapping->device, vmf);

	if (r)
		return VM_FAULT_SIGBUS;
	if (!(__atomic_fetch_or(&pfn_to_page(vmf->pfn)->flags, PG_dirty, __ATOMIC_ACQ_REL) & PG_dirty))
		__atomic_add_fetch(&mapping->host->nrdirty, 1, __ATOMIC_ACQ_REL);
	return 0;
}

static const struct vm_operations_struct device_vm_ops = {
	.fault = filemap_fault,
	.name = "device",
};

static const struct vm_operations_struct device_vm_ops_mkwrite = {
	.fault = filemap_fault,
	.page_mkwrite = device_page_mkwrite,
	.name = "device",
};

static int device_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct device *dev = file->f_mapping->device;

	vma->vm_ops = dev->mkwrite ? &device_vm_ops_mkwrite : &device_vm_ops;
	return dev->mmap ? dev->mmap(dev, vma) : 0;
}

static const struct file_operations device_file_operations = {
	.mmap = device_mmap,
};

/* A struct file for a mapping of the device whose cache is mapping. */
int device_open_file(struct mm_struct *mm, struct address_space *mapping, struct file **filep)
{
	struct file *file = calloc(1, sizeof(*file));
	size_t len = strlen(mapping->device->name) + sizeof("/dev/vmemu/");

	(void)mm;
	if (!file || !(file->f_path = malloc(len))) {
		free(file);
		return -ENOMEM;
	}
	strcpy(file->f_path, "/dev/vmemu/");
	strcat(file->f_path, mapping->device->name);
	mapping->refcount++;
	file->f_mapping = mapping;
	file->f_op = &device_file_operations;
	file->refcount = 1;
	*filep = file;
	return 0;
}

/* Make dev mappable through fd, the descriptor that names it.  The device
 * holds one reference to its cache until device_unregister.  Returns 0 or
 * -errno.  Caller holds mmap_lock for writing. */
int device_register(struct mm_struct *mm, struct device *dev, int fd)
{
	struct address_space *mapping;
	struct inode *inode;
	struct stat st;
	int r;

	if ((r = host_fstat(fd, &st)))
		return r;
	if (!(inode = iget_anon(I_DEVICE, 1ULL << 62)))	/* sized by its driver's SIGBUS */
		return -ENOMEM;
	inode->dev = (uint64_t)st.st_dev;
	inode->ino = (uint64_t)st.st_ino;
	if (!(mapping = mapping_alloc(&device_aops, inode))) {
		iput(inode);
		return -ENOMEM;
	}
	mapping->device = dev;
	mapping->refcount = 1;
	mapping->next = mm->mappings;
	mm->mappings = mapping;
	return 0;
}

/* Drop the device's own reference; the cache (and the driver's release)
 * goes when no mapping is left either.  Caller holds mmap_lock for writing. */
void device_unregister(struct mm_struct *mm, struct device *dev)
{
	for (struct address_space *m = mm->mappings; m; m = m->next)
		if (m->device == dev) {
			mapping_put(mm, m);
			return;
		}
}
