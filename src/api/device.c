/*
 * device.c - vme_device_open and vme_device_close: a program's driver
 * (struct vme_device_ops) behind the emulated kernel's struct device.
 *
 * fill_page and mkwrite run in the SIGSEGV handler and only translate the
 * fault state for the driver; the driver's own code must be async-signal-safe.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vmemu.h>
#include "api/api.h"
#include "mm/mm.h"

struct vme_device {
	struct device dev;		/* first: container of the mm's view */
	const struct vme_device_ops *ops;
	void *private_data;
	int fd;				/* the program's descriptor; -1 once closed */
};

static struct vme_device *to_vme(struct device *dev)
{
	return (struct vme_device *)dev;
}

static struct vme_vm_area vm_area_of(const struct vm_area_struct *vma)
{
	return (struct vme_vm_area){
		.start = (void *)vma->vm_start,
		.length = vma->vm_end - vma->vm_start,
		.pgoff = vma->vm_pgoff,
		.prot = (int)(vma->vm_flags & VM_ACCESS_FLAGS),
		.flags = (vma->vm_flags & VM_MAYSHARE) ? MAP_SHARED : MAP_PRIVATE,
	};
}

/* handler-safe (if the driver is) */
static struct vme_fault fault_of(struct vme_device *d, struct fault *vmf, char *page)
{
	return (struct vme_fault){
		.vma = vm_area_of(vmf->vma),
		.pgoff = vmf->pgoff,
		.address = (void *)vmf->real_address,
		.page = page,
		.page_size = PAGE_SIZE,
		.private_data = d->private_data,
	};
}

static int dev_mmap(struct device *dev, struct vm_area_struct *vma)
{
	struct vme_device *d = to_vme(dev);
	struct vme_vm_area area = vm_area_of(vma);

	return d->ops->mmap ? d->ops->mmap(d->private_data, &area) : 0;
}

/* handler-safe (if the driver is) */
static int dev_fill(struct device *dev, struct fault *vmf, char *page)
{
	struct vme_device *d = to_vme(dev);
	struct vme_fault f = fault_of(d, vmf, page);

	return d->ops->fault(&f) ? -ENXIO : 0;
}

/* handler-safe (if the driver is) */
static int dev_mkwrite(struct device *dev, struct fault *vmf)
{
	struct vme_device *d = to_vme(dev);
	struct vme_fault f = fault_of(d, vmf, NULL);

	return d->ops->page_mkwrite(&f);
}

static void dev_release(struct device *dev)
{
	struct vme_device *d = to_vme(dev);

	if (d->ops->close)
		d->ops->close(d->private_data);
	free(d);
}

/* Devices still open, by descriptor, for vme_device_close. */
static struct vme_device *devices[1024];

VME_EXPORT int vme_device_open(const struct vme_device_ops *ops, void *private_data)
{
	struct vme_call call;
	struct vme_device *d;
	int r, fd;

	if (!ops || !ops->fault || !ops->name)
		return api_ret(-EINVAL);
	if ((r = vme_enter(&call)))
		return api_ret(r);
	if (!(d = calloc(1, sizeof(*d)))) {
		r = -ENOMEM;
		goto out_leave;
	}
	if ((r = host_memfd(ops->name, &fd)))
		goto out_free;
	if (fd >= (int)(sizeof(devices) / sizeof(devices[0]))) {
		r = -EMFILE;
		goto out_close;
	}
	d->dev = (struct device){ .mmap = dev_mmap, .fill = dev_fill, .release = dev_release,
				  .mkwrite = ops->page_mkwrite ? dev_mkwrite : NULL, .name = ops->name };
	d->ops = ops;
	d->private_data = private_data;
	d->fd = fd;
	if (ops->open && (r = ops->open(private_data)))
		goto out_close;
	mmap_write_lock();
	r = device_register(&init_mm, &d->dev, fd);
	if (!r)
		devices[fd] = d;
	mmap_write_unlock();
	if (r) {
		if (ops->close)
			ops->close(private_data);
		goto out_close;
	}
	vme_leave(&call);
	return fd;

out_close:
	host_close(fd);
out_free:
	free(d);
out_leave:
	vme_leave(&call);
	return api_ret(r);
}

VME_EXPORT int vme_device_close(int fd)
{
	struct vme_call call;
	struct vme_device *d;
	int r;

	if (fd < 0 || fd >= (int)(sizeof(devices) / sizeof(devices[0])))
		return api_ret(-EBADF);
	if ((r = vme_enter(&call)))
		return api_ret(r);
	mmap_write_lock();
	if ((d = devices[fd])) {
		devices[fd] = NULL;
		device_unregister(&init_mm, &d->dev);	/* may release d */
	}
	mmap_write_unlock();
	vme_leave(&call);
	if (!d)
		return api_ret(-EBADF);
	host_close(fd);
	return 0;
}
