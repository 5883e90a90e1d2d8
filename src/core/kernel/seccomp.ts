/**
 * A seccomp filter for the bubblewrap sandbox (`bwrap --seccomp FD`): sandboxed code may not
 * create user namespaces. In a user namespace of its own a process holds every capability
 * (inside it), which opens kernel interfaces (mounts, netfilter, new PID/mount namespaces) that
 * the sandbox otherwise keeps shut; nothing in a Python kernel needs one.
 *
 * The program is classic BPF (struct sock_filter[], 8 bytes each, little-endian) and:
 *  - unshare(flags) and clone(flags, ...) with CLONE_NEWUSER in flags  -> EPERM
 *  - clone3(...)                                                      -> ENOSYS (its flags sit
 *    in a struct that seccomp cannot read; glibc then falls back to clone, which is checked)
 *  - on x86_64, every x32 system call (nr | 0x40000000)              -> ENOSYS
 *  - everything else                                                  -> allowed
 * for the machine's native ABI and its 32-bit compat ABI (a 64-bit process can enter the
 * 32-bit table with `int 0x80`, so i386 and arm are checked too), chosen by the architecture
 * word of each call. Little-endian only (x86_64, aarch64): other machines get no filter.
 */

// BPF opcodes (linux/bpf_common.h)
const BPF_LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS
const BPF_JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const BPF_JSET_K = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const BPF_RET_K = 0x06; // BPF_RET | BPF_K

const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;
const EPERM = 1;
const ENOSYS = 38;
export const CLONE_NEWUSER = 0x10000000;
const X32_SYSCALL_BIT = 0x40000000;

// offsets in struct seccomp_data: nr, arch, instruction_pointer, args[6] (u64 each)
const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_ARG0_LOW = 16; // the low 32 bits of args[0] (little-endian); CLONE_NEWUSER is there

/** one ABI the filter checks: its audit architecture word and system call numbers */
interface Abi {
  name: string;
  audit: number;
  clone: number;
  unshare: number;
  clone3: number;
  x32?: boolean;
}

const ABIS: Record<string, Abi> = {
  x86_64: { name: 'x86_64', audit: 0xc000003e, clone: 56, unshare: 272, clone3: 435, x32: true },
  i386: { name: 'i386', audit: 0x40000003, clone: 120, unshare: 310, clone3: 435 },
  aarch64: { name: 'aarch64', audit: 0xc00000b7, clone: 220, unshare: 97, clone3: 435 },
  arm: { name: 'arm', audit: 0x40000028, clone: 120, unshare: 337, clone3: 435 },
};

/** the ABIs a process on this Node architecture can use */
const BY_NODE_ARCH: Record<string, Abi[]> = {
  x64: [ABIS.x86_64, ABIS.i386],
  arm64: [ABIS.aarch64, ABIS.arm],
};

// a tiny assembler: jumps name labels, resolved to the relative offsets BPF wants
type Target = string | number; // a label, or 0 for "the next instruction"
type Insn = { code: number; k: number; jt?: Target; jf?: Target } | { label: string };

function assemble(prog: Insn[]): Buffer {
  const labels = new Map<string, number>();
  const code: Array<{ code: number; k: number; jt?: Target; jf?: Target }> = [];
  for (const i of prog) {
    if ('label' in i) labels.set(i.label, code.length);
    else code.push(i);
  }
  const buf = Buffer.alloc(code.length * 8);
  code.forEach((i, pc) => {
    const rel = (t: Target | undefined) => {
      if (t === undefined || typeof t === 'number') return t ?? 0;
      const at = labels.get(t);
      if (at === undefined) throw new Error(`seccomp: no label ${t}`);
      const off = at - pc - 1;
      if (off < 0 || off > 255) throw new Error(`seccomp: jump to ${t} out of range`);
      return off;
    };
    buf.writeUInt16LE(i.code, pc * 8);
    buf.writeUInt8(rel(i.jt), pc * 8 + 2);
    buf.writeUInt8(rel(i.jf), pc * 8 + 3);
    buf.writeUInt32LE(i.k >>> 0, pc * 8 + 4);
  });
  return buf;
}

const ld = (off: number): Insn => ({ code: BPF_LD_W_ABS, k: off });
const jeq = (k: number, jt: Target, jf: Target = 0): Insn => ({ code: BPF_JEQ_K, k, jt, jf });
const jset = (k: number, jt: Target, jf: Target = 0): Insn => ({ code: BPF_JSET_K, k, jt, jf });
const ret = (k: number): Insn => ({ code: BPF_RET_K, k });

/** the program for a set of ABIs */
export function buildSeccompProgram(abis: Abi[]): Buffer {
  const p: Insn[] = [ld(OFF_ARCH)];
  for (const a of abis) p.push(jeq(a.audit, a.name));
  p.push(ret(SECCOMP_RET_ALLOW));
  for (const a of abis) {
    p.push({ label: a.name }, ld(OFF_NR));
    if (a.x32) p.push(jset(X32_SYSCALL_BIT, 'enosys'));
    p.push(jeq(a.clone3, 'enosys'), jeq(a.unshare, 'flags'), jeq(a.clone, 'flags'), ret(SECCOMP_RET_ALLOW));
  }
  p.push({ label: 'flags' }, ld(OFF_ARG0_LOW), jset(CLONE_NEWUSER, 'eperm'), ret(SECCOMP_RET_ALLOW));
  p.push({ label: 'eperm' }, ret(SECCOMP_RET_ERRNO | EPERM));
  p.push({ label: 'enosys' }, ret(SECCOMP_RET_ERRNO | ENOSYS));
  return assemble(p);
}

/** Process-wide cache (module state on purpose): the assembled filter per architecture, a fact of this machine. */
const cache = new Map<string, Buffer | undefined>();

/**
 * The filter for `bwrap --seccomp FD` on this machine (Node's `process.arch`: 'x64' or 'arm64'),
 * or undefined where there is none (other architectures, other systems than Linux).
 */
export function seccompFilter(arch: string = process.arch, platform: string = process.platform): Buffer | undefined {
  if (platform !== 'linux') return undefined;
  if (!cache.has(arch)) cache.set(arch, BY_NODE_ARCH[arch] ? buildSeccompProgram(BY_NODE_ARCH[arch]) : undefined);
  return cache.get(arch);
}

/** the audit architecture words and system call numbers (for tests and diagnostics) */
export const SECCOMP_ABIS: Readonly<Record<string, Readonly<Abi>>> = ABIS;
