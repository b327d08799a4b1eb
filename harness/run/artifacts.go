package run

// Artifacts are a prepared run's boot files (kernel image, device tree or
// "", initramfs), for booting them elsewhere: `dirtygate lava` hands them
// to a LAVA lab.
func (p *Prepared) Artifacts() (kernel, dtb, initrd string) {
	return p.kernel.Image, p.kernel.DTB, p.initrd
}
