import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { sandboxSpec } from "../src/contract";
import {
  type SeccompArch,
  auditArch,
  cloneNewNamespaceFlags,
  hostSeccompArch,
  seccompFilterBytes,
  seccompRet,
  syscallNumbers,
  x32SyscallBit,
} from "../src/sandbox/local/seccomp";

/**
 * The seccomp filter evaluated the way the kernel does: a classic-BPF interpreter over the exact
 * bytes bubblewrap loads, fed synthetic `struct seccomp_data`. The hardened attack tests
 * (sandbox-attacks.test.ts) then check the same filter against the real kernel.
 */
function runFilter(bytes: Buffer, data: { nr: number; arch: number; args?: readonly number[] }): number {
  const seccompData = Buffer.alloc(64);
  seccompData.writeInt32LE(data.nr, 0);
  seccompData.writeUInt32LE(data.arch, 4);
  (data.args ?? []).forEach((a, i) => seccompData.writeBigUInt64LE(BigInt(a), 16 + i * 8));
  let acc = 0;
  let pc = 0;
  for (let steps = 0; steps < 10_000; steps++) {
    if (pc * 8 >= bytes.length) throw new Error(`fell off the end at ${pc}`);
    const code = bytes.readUInt16LE(pc * 8);
    const jt = bytes.readUInt8(pc * 8 + 2);
    const jf = bytes.readUInt8(pc * 8 + 3);
    const k = bytes.readUInt32LE(pc * 8 + 4);
    pc++;
    switch (code) {
      case 0x20: // ld [k]
        if (k % 4 !== 0 || k + 4 > 64) throw new Error(`bad load offset ${k}`);
        acc = seccompData.readUInt32LE(k);
        break;
      case 0x15: // jeq #k
        pc += acc === k ? jt : jf;
        break;
      case 0x35: // jge #k
        pc += acc >= k ? jt : jf;
        break;
      case 0x45: // jset #k
        pc += (acc & k) !== 0 ? jt : jf;
        break;
      case 0x06: // ret #k
        return k >>> 0;
      default:
        throw new Error(`unknown opcode 0x${code.toString(16)} at ${pc - 1}`);
    }
  }
  throw new Error("no return");
}

const eperm = seccompRet.errno(1);
const enosys = seccompRet.errno(38);
const sigchld = 17;
const cloneFiles = 0x400;
const cloneNewUser = 0x10000000;
/** read, write, openat, execve, exit_group, mmap: what every program needs. */
const everyday: Record<SeccompArch, number[]> = { x86_64: [0, 1, 257, 59, 231, 9], aarch64: [63, 64, 56, 221, 94, 222] };

describe.each(["x86_64", "aarch64"] as const)("seccomp filter (%s)", (arch) => {
  const bytes = seccompFilterBytes(arch);
  const nr = syscallNumbers[arch];
  const call = (n: number, args: number[] = []) => runFilter(bytes, { nr: n, arch: auditArch[arch], args });

  it("denies every syscall of the contract's list that exists on this architecture with EPERM", () => {
    const present = sandboxSpec.seccomp.deniedSyscalls.filter((s) => nr[s] !== undefined);
    const x86Only = ["iopl", "ioperm", "uselib", "_sysctl"];
    expect(present).toEqual(sandboxSpec.seccomp.deniedSyscalls.filter((s) => arch === "x86_64" || !x86Only.includes(s)));
    for (const s of present) expect([s, call(nr[s]!)]).toEqual([s, eperm]);
    for (const s of ["ptrace", "mount", "umount2", "keyctl", "add_key", "request_key", "bpf", "userfaultfd", "perf_event_open", "kexec_load", "init_module", "finit_module", "delete_module"] as const) {
      expect(nr[s], s).toBeDefined();
    }
  });

  it("allows ordinary syscalls", () => {
    for (const n of everyday[arch]) expect(call(n)).toBe(seccompRet.allow);
  });

  it("refuses clone and unshare that create a namespace, and allows the rest", () => {
    expect(call(nr.clone!, [sigchld])).toBe(seccompRet.allow); // fork()
    expect(call(nr.clone!, [0x3d0f00])).toBe(seccompRet.allow); // pthread_create's flags
    expect(call(nr.unshare!, [cloneFiles])).toBe(seccompRet.allow);
    expect(call(nr.clone!, [cloneNewUser | sigchld])).toBe(eperm);
    expect(call(nr.unshare!, [cloneNewUser])).toBe(eperm);
    for (let bit = 0; bit < 32; bit++) {
      const flag = 2 ** bit;
      if ((cloneNewNamespaceFlags & flag) === 0) continue;
      expect(call(nr.unshare!, [flag])).toBe(eperm);
      expect(call(nr.clone!, [flag | sigchld])).toBe(eperm);
    }
  });

  it("answers clone3 with ENOSYS so libc falls back to clone, where the flags can be checked", () => {
    expect(call(nr.clone3!)).toBe(enosys);
  });

  it("kills a syscall made under another architecture", () => {
    for (const other of [0x40000003 /* i386 */, 0x40000028 /* arm */, auditArch[arch === "x86_64" ? "aarch64" : "x86_64"]]) {
      expect(runFilter(bytes, { nr: 0, arch: other })).toBe(seccompRet.killProcess);
    }
  });

  if (arch === "x86_64") {
    it("kills the x32 ABI (syscall numbers with bit 30 set)", () => {
      expect(call(x32SyscallBit | 0)).toBe(seccompRet.killProcess);
      expect(call(x32SyscallBit | nr.ptrace!)).toBe(seccompRet.killProcess);
    });
  }
});

describe("seccomp syscall tables", () => {
  // The uapi headers of the machine running the tests (linux-libc-dev), when installed.
  const headers: Record<SeccompArch, { path: string; prefix: RegExp }> = {
    x86_64: { path: "/usr/include/x86_64-linux-gnu/asm/unistd_64.h", prefix: /^#define __NR_(\w+)\s+(\d+)$/gm },
    aarch64: { path: "/usr/include/asm-generic/unistd.h", prefix: /^#define __NR(?:3264)?_(\w+)\s+(\d+)$/gm },
  };
  for (const arch of ["x86_64", "aarch64"] as const) it(`match the kernel headers (${arch})`, (ctx) => {
    const { path, prefix } = headers[arch];
    if (!existsSync(path)) ctx.skip(`${path} is not installed`);
    const fromHeader = new Map([...readFileSync(path, "utf8").matchAll(prefix)].map((m) => [m[1]!, Number(m[2])]));
    for (const [name, n] of Object.entries(syscallNumbers[arch])) expect([name, fromHeader.get(name)]).toEqual([name, n]);
    // What the header lacks, the table must lack too (the x86-only calls on aarch64).
    for (const name of sandboxSpec.seccomp.deniedSyscalls) {
      expect([name, syscallNumbers[arch][name] !== undefined]).toEqual([name, fromHeader.has(name)]);
    }
  });


  it("names the host architecture", () => {
    expect(hostSeccompArch("x64")).toBe("x86_64");
    expect(hostSeccompArch("arm64")).toBe("aarch64");
    expect(hostSeccompArch("riscv64")).toBeUndefined();
  });
});
