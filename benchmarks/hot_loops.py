#!/usr/bin/env python3
"""The GEMM micro-kernel's inner loops in a built binary, and what else they run.

usage: python3 benchmarks/hot_loops.py BINARY [BINARY ...]
       (e.g. bazel-bin/examples/riformer_s12, or a program that embeds the headers)

For every instantiation of kernels::detail::micro_tile, prints each of its
depth loops (a backward jump whose body is one depth step or two: up to 120
instructions with at least 12 FMAs): its length, its FMAs, its stack accesses,
and its moves from a vector register to a general one (`vmovq %xmm, %r64`).

Why: the AVX-512 tile keeps 14 row pointers live, more than the general
registers left, and GCC may park one in the single vector register the tile
leaves free. Moving it back every step (most likely on a pipe the FMAs need)
cost the tile 3% of its speed on Zen 4 (gemm_microkernel.hpp). Stack reloads cost
nothing measurable. Exits with status 1 when any depth loop has such a move,
so a compiler or flag change that brings it back is seen at once, and with status
2 when a binary has no such loop to check (stripped, or not x86-64): CI runs it.

Needs binutils' objdump. x86-64 binaries only.
"""
import re
import subprocess
import sys

KERNEL = "riformer::kernels::detail::micro_tile<"
MAX_BODY = 120  # instructions: one or two depth steps, not the epilogue
MIN_FMAS = 12  # the AVX2 tile's step: 6 rows x 2 vectors
VECTOR_TO_GPR = re.compile(r"\bvmovq\s+%xmm\d+,%r")
JUMP = re.compile(r"\sj\w+\s+([0-9a-f]+) <")
INSTRUCTION = re.compile(r"^\s+([0-9a-f]+):\s")
SYMBOL = re.compile(r"^[0-9a-f]+ <(.*)>:$")


def functions(binary):
    """Yields (demangled name, [(address, text)]) for each function of the binary."""
    try:
        out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", binary], capture_output=True, text=True,
                             check=True).stdout
    except FileNotFoundError:
        sys.exit("hot_loops.py: objdump not found (apt install binutils)")
    except subprocess.CalledProcessError as e:
        sys.exit(f"hot_loops.py: objdump could not read {binary}: {e.stderr.strip()}")
    name, body = None, []
    for line in out.splitlines():
        m = SYMBOL.match(line)
        if m:
            if name:
                yield name, body
            name, body = m.group(1), []
            continue
        m = INSTRUCTION.match(line)
        if m:
            body.append((int(m.group(1), 16), line))
    if name:
        yield name, body


def depth_loops(body):
    """The innermost loops of a function that look like a micro tile's depth loop."""
    index = {address: i for i, (address, _) in enumerate(body)}
    for i, (address, line) in enumerate(body):
        m = JUMP.search(line)
        if not m:
            continue
        target = int(m.group(1), 16)
        if target >= address or target not in index:
            continue
        loop = [text for _, text in body[index[target]:i + 1]]
        fmas = sum("vfmadd" in text for text in loop)
        if len(loop) <= MAX_BODY and fmas >= MIN_FMAS and innermost(loop[:-1], target):
            yield target, loop, fmas


def innermost(loop, start):
    """Whether no jump inside the loop goes back into it (an outer loop, e.g. over a conv's kernel rows, is not
    a depth loop: what it runs once per kernel row does not matter)."""
    for text in loop:
        m = JUMP.search(text)
        if m and int(m.group(1), 16) >= start and int(m.group(1), 16) < int(INSTRUCTION.match(text).group(1), 16):
            return False
    return True


def short_name(name):
    name = name.split("(int,")[0]
    for long, short in (("riformer::kernels::detail::", ""), ("(riformer::kernels::Activation)", "act "),
                        ("xsimd::", "")):
        name = name.replace(long, short)
    return name


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) >= 2 else 2
    found = unchecked = 0
    for binary in sys.argv[1:]:
        kernels = [(name, body) for name, body in functions(binary)
                   if name.startswith("void " + KERNEL) or name.startswith(KERNEL)]
        print(f"# {binary}")
        print("| micro_tile<arch, activation, add after, rows, fetch next, segmented> | loop at | instructions | FMAs "
              "| stack accesses | vector-to-GPR moves |")
        print("|---|---|---|---|---|---|")
        loops = 0
        for name, body in kernels:
            for target, loop, fmas in depth_loops(body):
                moves = sum(bool(VECTOR_TO_GPR.search(text)) for text in loop)
                stack = sum("(%rsp)" in text for text in loop)
                loops += 1
                found += moves > 0
                print(f"| {short_name(name)} | {target:#x} | {len(loop)} | {fmas} | {stack} | {moves} |")
        if loops == 0:
            print("(no micro_tile depth loop found: not an x86-64 build of the library, or stripped)")
            unchecked += 1
    print(f"# depth loops with vector-to-GPR moves: {found}")
    return 1 if found else 2 if unchecked else 0


if __name__ == "__main__":
    sys.exit(main())
