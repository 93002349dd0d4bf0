"""Start a program of a local store inside the store's cgroups, as the
store's own uid — nothing of the store runs before it is contained.

Run as root by the platform, with Python's isolated mode and no import of
the platform's package (``python3 -I launch.py``):

    launch.py [--join CGROUP_PROCS]... [--uid N --gid N] [--umask 027] -- PROGRAM ARG...

It writes its own pid into each cgroup.procs given (the store's memory, cpu
and pids cgroups), drops every privilege (supplementary groups, then gid,
then uid), sets the umask and execs the program. Secrets never travel here:
the program reads them from stdin or from files the store may read.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="launch.py")
    parser.add_argument("--join", action="append", default=[])
    parser.add_argument("--uid", type=int)
    parser.add_argument("--gid", type=int)
    parser.add_argument("--umask", default="027")
    parser.add_argument("program", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    program = args.program[1:] if args.program[:1] == ["--"] else args.program
    if not program:
        parser.error("no program to run")
    for procs in args.join:
        with open(procs, "w", encoding="ascii") as f:
            f.write(str(os.getpid()))
    if args.uid is not None:
        gid = args.gid if args.gid is not None else args.uid
        os.setgroups([])
        os.setgid(gid)
        os.setuid(args.uid)
        if os.getuid() != args.uid or os.geteuid() != args.uid:
            raise SystemExit("launch.py: could not drop privileges")
    os.umask(int(args.umask, 8))
    os.execvp(program[0], program)  # noqa: S606 (an argument list, never a shell)


if __name__ == "__main__":
    main(sys.argv[1:])
