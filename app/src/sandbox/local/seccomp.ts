import { sandboxSpec } from "../../contract";

/**
 * The local sandbox's seccomp filter: a classic-BPF program (the format of `struct sock_filter`
 * that bubblewrap's `--seccomp FD` loads) built from `sandboxSpec.seccomp`. It is short and fixed,
 * so it is generated here rather than through libseccomp (no maintained npm binding exists, and
 * calling Debian's C library would need a native addon or a Python helper on the worker image).
 *
 * Program: check the architecture (anything but the one it was built for, or the x32 ABI on
 * x86_64, kills the process); `clone3` → ENOSYS; `clone`/`unshare` with any CLONE_NEW* flag → EPERM;
 * each denied syscall → EPERM; everything else is allowed.
 */

export type SeccompArch = "x86_64" | "aarch64";
export type DeniedSyscall = (typeof sandboxSpec.seccomp.deniedSyscalls)[number];
type Syscall = DeniedSyscall | "clone" | "unshare" | "clone3";

/** From the kernel's uapi headers (asm/unistd_64.h; asm-generic/unistd.h for aarch64). */
export const syscallNumbers: Readonly<Record<SeccompArch, Readonly<Partial<Record<Syscall, number>>>>> = {
  x86_64: {
    ptrace: 101, process_vm_readv: 310, process_vm_writev: 311,
    mount: 165, umount2: 166, pivot_root: 155, chroot: 161, open_tree: 428, move_mount: 429,
    fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433, mount_setattr: 442,
    keyctl: 250, add_key: 248, request_key: 249,
    bpf: 321, userfaultfd: 323, perf_event_open: 298, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427,
    setns: 308,
    kexec_load: 246, kexec_file_load: 320, init_module: 175, finit_module: 313, delete_module: 176,
    reboot: 169, swapon: 167, swapoff: 168, acct: 163, syslog: 103, quotactl: 179, settimeofday: 164, clock_settime: 227,
    open_by_handle_at: 304, lookup_dcookie: 212, vhangup: 153,
    iopl: 172, ioperm: 173, uselib: 134, _sysctl: 156,
    clone: 56, unshare: 272, clone3: 435,
  },
  aarch64: {
    ptrace: 117, process_vm_readv: 270, process_vm_writev: 271,
    mount: 40, umount2: 39, pivot_root: 41, chroot: 51, open_tree: 428, move_mount: 429,
    fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433, mount_setattr: 442,
    keyctl: 219, add_key: 217, request_key: 218,
    bpf: 280, userfaultfd: 282, perf_event_open: 241, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427,
    setns: 268,
    kexec_load: 104, kexec_file_load: 294, init_module: 105, finit_module: 273, delete_module: 106,
    reboot: 142, swapon: 224, swapoff: 225, acct: 89, syslog: 116, quotactl: 60, settimeofday: 170, clock_settime: 112,
    open_by_handle_at: 265, lookup_dcookie: 18, vhangup: 58,
    clone: 220, unshare: 97, clone3: 435,
  },
};

/** linux/audit.h */
export const auditArch: Readonly<Record<SeccompArch, number>> = { x86_64: 0xc000003e, aarch64: 0xc00000b7 };
/** Syscall numbers at and above this bit on x86_64 are the x32 ABI. */
export const x32SyscallBit = 0x40000000;
/** CLONE_NEWTIME | NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (linux/sched.h). */
export const cloneNewNamespaceFlags = 0x00000080 | 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

const errnoValues = { EPERM: 1, ENOSYS: 38 } as const;
export const seccompRet = {
  killProcess: 0x80000000,
  errno: (e: number): number => 0x00050000 | (e & 0xffff),
  allow: 0x7fff0000,
} as const;

/** linux/filter.h opcodes used here. */
const op = {
  ldAbsW: 0x20, // BPF_LD | BPF_W | BPF_ABS
  jeqK: 0x15, // BPF_JMP | BPF_JEQ | BPF_K
  jgeK: 0x35, // BPF_JMP | BPF_JGE | BPF_K
  jsetK: 0x45, // BPF_JMP | BPF_JSET | BPF_K
  retK: 0x06, // BPF_RET | BPF_K
} as const;

/** Offsets into `struct seccomp_data`: nr, arch, then 64-bit args (the low word first on little-endian). */
const dataOffset = { nr: 0, arch: 4, arg0Low: 16 } as const;

export interface BpfInstruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

/** The host's architecture as the filter names it, or undefined where no filter exists for it. */
export function hostSeccompArch(arch: string = process.arch): SeccompArch | undefined {
  if (arch === "x64") return "x86_64";
  if (arch === "arm64") return "aarch64";
  return undefined;
}

/** The filter as instructions (see the file comment for its shape). */
export function seccompProgram(arch: SeccompArch): BpfInstruction[] {
  const numbers = syscallNumbers[arch];
  const denied = sandboxSpec.seccomp.deniedSyscalls.flatMap((name) => {
    const nr = numbers[name];
    return nr === undefined ? [] : [nr];
  });
  const ins = (code: number, k: number, jt = 0, jf = 0): BpfInstruction => ({ code, jt, jf, k });
  const eperm = seccompRet.errno(errnoValues[sandboxSpec.seccomp.errno]);

  const head: BpfInstruction[] = [
    ins(op.ldAbsW, dataOffset.arch),
    ins(op.jeqK, auditArch[arch], 1, 0),
    ins(op.retK, seccompRet.killProcess),
    ins(op.ldAbsW, dataOffset.nr),
  ];
  if (arch === "x86_64") head.push(ins(op.jgeK, x32SyscallBit, 0, 1), ins(op.retK, seccompRet.killProcess));

  // Tail, in this order: [namespace check: ld arg0; jset; allow], [ENOSYS], [EPERM], [allow].
  // Jumps are relative to the next instruction, so each comparison's target is counted from
  // its own position; the whole program stays far below the 255-instruction reach of a jump.
  const compares: { nr: number; target: "ns" | "enosys" | "eperm" }[] = [
    { nr: numbers.clone3!, target: "enosys" },
    { nr: numbers.clone!, target: "ns" },
    { nr: numbers.unshare!, target: "ns" },
    ...denied.map((nr) => ({ nr, target: "eperm" as const })),
  ];
  const tail = { ns: 0, enosys: 3, eperm: 4 } as const;
  const body = compares.map((c, i) => {
    const remaining = compares.length - i - 1; // comparisons after this one
    // After the comparisons comes one `ret allow` (the default), then the tail.
    return ins(op.jeqK, c.nr, remaining + 1 + tail[c.target], 0);
  });
  return [
    ...head,
    ...body,
    ins(op.retK, seccompRet.allow),
    // ns: clone/unshare — refuse any CLONE_NEW* flag in the low word of the first argument.
    ins(op.ldAbsW, dataOffset.arg0Low),
    ins(op.jsetK, cloneNewNamespaceFlags, 2, 0),
    ins(op.retK, seccompRet.allow),
    ins(op.retK, seccompRet.errno(errnoValues.ENOSYS)),
    ins(op.retK, eperm),
  ];
}

/** The filter as bubblewrap reads it: `struct sock_filter` records (both architectures are little-endian). */
export function seccompFilterBytes(arch: SeccompArch): Buffer {
  const prog = seccompProgram(arch);
  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach((p, i) => {
    buf.writeUInt16LE(p.code, i * 8);
    buf.writeUInt8(p.jt, i * 8 + 2);
    buf.writeUInt8(p.jf, i * 8 + 3);
    buf.writeUInt32LE(p.k >>> 0, i * 8 + 4);
  });
  return buf;
}
