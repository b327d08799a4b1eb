// Package lava writes LAVA job definitions that boot a kernel under test
// with dirtygate's initramfs (the agent, or the executor, as /init) on a
// lab's device, and reads a LAVA job's log back into the console lines
// `dirtygate parse` judges.
//
// Runs on the host.
package lava

import (
	"bytes"
	"cmp"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"dirtygate/arches"
	"dirtygate/guest/executor"
	"dirtygate/harness/run"
)

// Job is what one job definition needs.
type Job struct {
	Arch       *arches.Arch
	Device     Device
	KernelURL  string
	RamdiskURL string // the initramfs.cpio.gz dirtygate built
	DTBURL     string // "" none
	Patches    []string
	Only       []string      // scenarios; empty = all
	Budget     time.Duration // the scenarios' time on the device
}

// Kernel arguments the agent reads (guest/cmd/agent), as a run passes them.
func (j Job) kernelArgs() []string {
	args := append([]string{"console=" + j.Arch.Boot.Console, "panic=-1"}, j.Arch.Boot.KernelArgs...)
	return append(args, run.AgentArgs(j.Arch, j.Only)...)
}

// Console lines the job watches for.
const (
	initStarted = "Run /init as init process"
	agentDone   = "dirtygate: agent done"
	// ExecutorReady is what the executor prints once it runs as /init.
	ExecutorReady = executor.ReadyLine
	// resultPattern turns the agent's own per-scenario lines into LAVA
	// test cases. They are the guest's claims; `dirtygate parse` of the
	// job's log is the verdict (records, CRCs, the host's oracle).
	resultPattern = `dirtygate: scenario (?P<test_case_id>[a-z0-9-]+): (?P<result>pass|fail|skip|error)`
)

type m = map[string]any

func minutes(d time.Duration) m {
	return m{"minutes": max(1, int((d+time.Minute-1)/time.Minute))}
}

// YAML renders the job definition.
func (j Job) YAML() ([]byte, error) {
	if j.Arch == nil || j.KernelURL == "" || j.RamdiskURL == "" {
		return nil, fmt.Errorf("lava: a job needs an arch, a kernel URL and a ramdisk URL")
	}
	if j.Arch.Build.DTB != "" && j.DTBURL == "" && j.Device.Type == "qemu" {
		return nil, fmt.Errorf("lava: %s boots with a device tree (%s): give its URL", j.Arch.Name, j.Arch.Build.DTB)
	}
	deploy, boot, ctx, err := j.deployBoot()
	if err != nil {
		return nil, err
	}
	name := "dirtygate " + j.Arch.Name
	if len(j.Patches) > 0 {
		name += " " + strings.Join(j.Patches, "+")
	}
	budget := j.Budget
	if budget == 0 {
		budget = 30 * time.Minute
	}
	doc := orderedMap(
		"job_name", name,
		"device_type", j.Device.Type,
		"visibility", "public",
		"priority", "medium",
		"timeouts", m{"job": minutes(budget + 20*time.Minute), "action": minutes(budget),
			"connection": m{"minutes": 2}},
		"context", ctx,
		"metadata", m{"dirtygate.arch": j.Arch.Name, "dirtygate.patches": strings.Join(j.Patches, " "),
			"dirtygate.judge": "dirtygate parse of this job's log"},
		"actions", []any{m{"deploy": deploy}, m{"boot": boot}, m{"test": j.test(budget)}},
	)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// deployBoot is the deploy and boot actions and the job context: LAVA's
// qemu device type takes the images on its command line; a U-Boot board
// takes them over TFTP.
func (j Job) deployBoot() (deploy, boot, ctx m, err error) {
	a := j.Arch
	args := strings.Join(j.kernelArgs(), " ")
	if j.Device.Type == "qemu" {
		images := m{
			"kernel":  m{"url": j.KernelURL, "image_arg": fmt.Sprintf("-kernel {kernel} -append '%s'", args)},
			"ramdisk": m{"url": j.RamdiskURL, "image_arg": "-initrd {ramdisk}"},
		}
		if j.DTBURL != "" {
			images["dtb"] = m{"url": j.DTBURL, "image_arg": "-dtb {dtb}"}
		}
		extra := []any{"-no-reboot", fmt.Sprintf("-smp %d", max(a.Boot.SMP, 1))}
		if !templateMachine[j.Device.QEMUArch] {
			extra = append(extra, "-machine "+a.Boot.Machine)
		}
		for i := 0; i < len(a.Boot.QEMUArgs); i += 2 {
			if i+1 < len(a.Boot.QEMUArgs) && strings.HasPrefix(a.Boot.QEMUArgs[i], "-") {
				extra = append(extra, a.Boot.QEMUArgs[i]+" "+a.Boot.QEMUArgs[i+1])
			}
		}
		ctx = m{"arch": j.Device.QEMUArch, "machine": a.Boot.Machine, "memory": a.Boot.MemoryMB,
			"no_kvm": 1, "extra_options": extra}
		if cpu := cmp.Or(a.Boot.CPU, j.Device.CPU); cpu != "" {
			ctx["cpu"] = cpu
		}
		return m{"to": "tmpfs", "timeout": m{"minutes": 5}, "images": images},
			m{"method": "qemu", "media": "tmpfs", "timeout": m{"minutes": 5}}, ctx, nil
	}
	if j.Device.KernelType == "" {
		return nil, nil, nil, fmt.Errorf("lava: %s on device type %s: only LAVA's qemu device type or a U-Boot board (arm64, armv5, armv7) is generated", a.Name, j.Device.Type)
	}
	deploy = m{"to": "tftp", "timeout": m{"minutes": 5},
		"kernel":  m{"url": j.KernelURL, "type": j.Device.KernelType},
		"ramdisk": m{"url": j.RamdiskURL, "compression": "gz"}}
	if j.DTBURL != "" {
		deploy["dtb"] = m{"url": j.DTBURL}
	}
	// The device type's template supplies console=; the agent's own
	// arguments go on after it.
	ctx = m{"extra_kernel_args": strings.Join(j.kernelArgs()[2:], " ") + " panic=-1"}
	return deploy, m{"method": "u-boot", "commands": "ramdisk", "timeout": m{"minutes": 5}}, ctx, nil
}

// test is the job's test action. The agent runs every scenario on its
// own and prints a line per scenario: a monitor turns those into LAVA
// results. The executor runs nothing on its own (the host drives it over
// the console): the job waits for it to come up and holds the device.
func (j Job) test(budget time.Duration) m {
	if j.Arch.UsesExecutor() {
		return m{"timeout": minutes(budget), "interactive": []any{m{
			"name": "dirtygate-executor", "prompts": []any{ExecutorReady},
			"script": []any{m{"name": "executor-ready", "command": nil,
				"successes": []any{m{"message": ExecutorReady}}}},
		}}}
	}
	return m{"timeout": minutes(budget), "monitors": []any{m{
		"name": "dirtygate", "start": initStarted, "end": agentDone, "pattern": resultPattern,
		"fixupdict": m{"error": "fail"},
	}}}
}

// orderedMap keeps a job's top-level keys in the order LAVA's examples use.
func orderedMap(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i < len(kv); i += 2 {
		var k, v yaml.Node
		k.Encode(kv[i])
		if err := v.Encode(kv[i+1]); err != nil {
			panic(err)
		}
		n.Content = append(n.Content, &k, &v)
	}
	return n
}
