// Package target reaches a machine that is not a VM dirtygate booted: a
// real PA-RISC workstation, a sun4m, an ARMv5 or SH-4 board running the
// kernel under test. It connects the host to the agent or executor there:
//
//	ssh://[user@]host[:port]  copy the program over ssh and run it (root)
//	serial:///dev/ttyUSB0     an executor already running as the board's
//	                          /init on that serial line (raw, 115200 8N1)
//	exec:COMMAND              run COMMAND locally; its stdin and stdout
//	                          reach the program ($DIRTYGATE_PROGRAM is the
//	                          binary to start there)
//
// Runs on the host.
package target

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Conn is a running agent or executor on a target.
type Conn struct {
	In  io.WriteCloser // to the program's stdin
	Out io.Reader      // from its stdout
	// Fresh is true when the program was just started (an executor then
	// sends its ready frame); false on a serial line where it was running.
	Fresh bool
	// Describe says what was reached and how, for the report.
	Describe string
	close    func() error
}

// Close ends the connection (and the remote program, for ssh and exec).
func (c *Conn) Close() error { return c.close() }

// Dial reaches spec and starts program there with env (KEY=VALUE) added;
// program is a binary for the target's arch, unused for serial, where the
// executor is already running.
func Dial(spec, program string, env []string) (*Conn, error) {
	switch {
	case strings.HasPrefix(spec, "ssh://"):
		return dialSSH(spec, program, env)
	case strings.HasPrefix(spec, "serial://"):
		return dialSerial(strings.TrimPrefix(spec, "serial://"))
	case strings.HasPrefix(spec, "exec:"):
		return dialExec(strings.TrimPrefix(spec, "exec:"), program, env)
	}
	return nil, fmt.Errorf("target %q: want ssh://[user@]host[:port], serial:///dev/DEVICE or exec:COMMAND", spec)
}

func sshArgs(u *url.URL) []string {
	args := []string{"-T", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=15"}
	if p := u.Port(); p != "" {
		args = append(args, "-p", p)
	}
	host := u.Hostname()
	if u.User != nil {
		host = u.User.Username() + "@" + host
	}
	return append(args, host)
}

func dialSSH(spec, program string, env []string) (*Conn, error) {
	u, err := url.Parse(spec)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("target %q: want ssh://[user@]host[:port]", spec)
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		return nil, fmt.Errorf("target %s needs ssh: apt-get install openssh-client", spec)
	}
	bin, err := os.Open(program)
	if err != nil {
		return nil, err
	}
	defer bin.Close()
	const remote = "/tmp/dirtygate-program"
	cp := exec.Command("ssh", append(sshArgs(u), "cat > "+remote+" && chmod 755 "+remote)...)
	cp.Stdin = bin
	if out, err := cp.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("copying %s to %s: %v: %s", program, spec, err, strings.TrimSpace(string(out)))
	}
	run := remote
	if len(env) > 0 {
		run = "env " + strings.Join(env, " ") + " " + remote
	}
	return start(exec.Command("ssh", append(sshArgs(u), run)...), "ssh "+u.Host)
}

func dialExec(command, program string, env []string) (*Conn, error) {
	cmd := exec.Command("sh", "-c", command)
	cmd.Env = append(append(os.Environ(), "DIRTYGATE_PROGRAM="+program), env...)
	return start(cmd, "exec "+command)
}

func start(cmd *exec.Cmd, what string) (*Conn, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &Conn{In: in, Out: out, Fresh: true, Describe: what, close: func() error {
		in.Close()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		return cmd.Wait()
	}}, nil
}

func dialSerial(dev string) (*Conn, error) {
	f, err := os.OpenFile(dev, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is not a serial line: %w", dev, err)
	}
	// Raw, 8N1, 115200: the executor's frames are hex and survive any
	// tty, but a cooked line would echo requests back.
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.B115200 | unix.CLOCAL | unix.CREAD
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t); err != nil {
		f.Close()
		return nil, err
	}
	return &Conn{In: f, Out: f, Fresh: false, Describe: "serial " + dev, close: f.Close}, nil
}
