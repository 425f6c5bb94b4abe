#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""top_screen.py VIOMMU ROWS COLS: drive 'viommu top 0.5' on a pseudo
terminal of ROWS x COLS: wait for a first screen, press End (G), then x
(expand the selected VM), then make the terminal 60 rows tall, then q.
Prints one line per step with the screen output that step produced, as
'STEP <name> <raw output, escaped>' lines, and 'EXIT <status>'."""
import fcntl, os, pty, select, struct, sys, termios, time

viommu, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def winsize(fd, r, c):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', r, c, 0, 0))


pid, fd = pty.fork()
if pid == 0:
    os.environ['TERM'] = 'vt100'
    os.execv(viommu, [viommu, 'top', '0.5'])
winsize(fd, rows, cols)


def read_for(secs, until=None):
    out, end = b'', time.time() + secs
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if until and until in out:
                # the rest of this refresh
                out += read_for(0.3)
                break
    return out


def step(name, out):
    print('STEP', name, out.decode('utf-8', 'replace').encode('unicode_escape').decode())


step('start', read_for(120, b'viommu-load'))
os.write(fd, b'G')
step('end', read_for(3))
os.write(fd, b'x')
step('expand', read_for(3))
winsize(fd, 60, cols)
os.kill(pid, 28)    # SIGWINCH, as the terminal sends it
step('resize', read_for(3))
os.write(fd, b'q')
read_for(5)
_, status = os.waitpid(pid, 0)
print('EXIT', os.waitstatus_to_exitcode(status))
