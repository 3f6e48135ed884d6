"""Drives `sbx run --shell` through a real terminal, as a user at a
keyboard would, and checks the relay between that terminal and the
sandbox's own pty: the window size (also after a resize), Ctrl-C reaching
the sandbox's foreground job, and the exit status coming back.
Prints one "ok NAME" / "not ok NAME: why" line per check.
Usage: pty_check.py SBX PROJECT [RUN-OPTION...] (--backend container, say)"""
import fcntl, os, pty, select, signal, struct, sys, termios, time

sbx, project, options = sys.argv[1], sys.argv[2], sys.argv[3:]


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


pid, master = pty.fork()
if pid == 0:
    set_size(0, 40, 120)
    os.execv(sbx, [sbx, "run", *options, "--shell", "--network", "none", project, "--", "--norc", "-i"])

screen = b""


def wait_for(marker, seconds=20):
    global screen
    deadline = time.time() + seconds
    while time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                return False
            screen += data
            if marker in screen:
                screen = screen[screen.index(marker) + len(marker):]
                return True
    return False


def send(text):
    os.write(master, text.encode())


def report(name, ok, why=""):
    print(("ok " if ok else "not ok ") + name + ("" if ok else ": " + why), flush=True)


set_size(master, 40, 120)
send("echo size-$(stty size)-end\r")
report("the sandbox's terminal has the caller's size", wait_for(b"size-40 120-end"), repr(screen[-300:]))
set_size(master, 50, 100)
os.kill(pid, signal.SIGWINCH)
time.sleep(0.3)
send("echo size-$(stty size)-end\r")
report("a resize of the caller's terminal reaches the sandbox", wait_for(b"size-50 100-end"), repr(screen[-300:]))
send("sleep 100\r")
time.sleep(1)
send("\x03")
# The shell survives and reports the job's death by SIGINT (130).
send("echo after-sleep-$?-end\r")
report("Ctrl-C ends the sandbox's foreground job, not sbx", wait_for(b"after-sleep-130-end"), repr(screen[-300:]))
send("exit 7\r")
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
report("the shell's exit status comes back through sbx", code == 7, "exit %d" % code)
