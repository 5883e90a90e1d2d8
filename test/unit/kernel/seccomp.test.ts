/**
 * The seccomp program (seccomp.ts), run by a small classic-BPF interpreter on made-up system
 * calls of every ABI it covers (the real filter under bwrap: test/integration/kernel/containment).
 */
import { strict as assert } from 'node:assert';
import { buildSeccompProgram, CLONE_NEWUSER, SECCOMP_ABIS, seccompFilter } from '../../../src/core/kernel/seccomp';

const ALLOW = 0x7fff0000;
const EPERM = 0x00050000 | 1;
const ENOSYS = 0x00050000 | 38;

/** runs a classic-BPF seccomp program (the opcodes seccomp.ts emits) on struct seccomp_data */
function run(prog: Buffer, nr: number, arch: number, arg0 = 0n): number {
  const data = Buffer.alloc(64);
  data.writeInt32LE(nr | 0, 0);
  data.writeUInt32LE(arch >>> 0, 4);
  data.writeBigUInt64LE(arg0, 16);
  let a = 0;
  for (let pc = 0; pc < prog.length / 8; pc++) {
    const code = prog.readUInt16LE(pc * 8);
    const jt = prog.readUInt8(pc * 8 + 2);
    const jf = prog.readUInt8(pc * 8 + 3);
    const k = prog.readUInt32LE(pc * 8 + 4);
    if (code === 0x20) a = data.readUInt32LE(k);
    else if (code === 0x15) pc += a === k ? jt : jf;
    else if (code === 0x45) pc += (a & k) >>> 0 ? jt : jf;
    else if (code === 0x06) return k;
    else throw new Error(`opcode ${code.toString(16)} not expected`);
  }
  throw new Error('fell off the end of the program');
}

describe('seccomp: no user namespaces in the sandbox', () => {
  const prog = seccompFilter('x64', 'linux')!;
  const arm = seccompFilter('arm64', 'linux')!;
  const { x86_64, i386, aarch64, arm: arm32 } = SECCOMP_ABIS;

  it('is a whole number of 8-byte instructions, for x64 and arm64 on Linux only', () => {
    for (const p of [prog, arm]) assert.ok(p.length > 0 && p.length % 8 === 0 && p.length / 8 < 4096);
    assert.equal(seccompFilter('ia32', 'linux'), undefined);
    assert.equal(seccompFilter('x64', 'darwin'), undefined);
    assert.equal(seccompFilter('x64', 'linux'), prog, 'cached');
  });

  for (const [name, p, abis] of [
    ['x64', () => prog, [x86_64, i386]],
    ['arm64', () => arm, [aarch64, arm32]],
  ] as const) {
    it(`${name}: unshare/clone with CLONE_NEWUSER get EPERM, clone3 ENOSYS, the rest is allowed (native and 32-bit ABI)`, () => {
      for (const abi of abis) {
        assert.equal(run(p(), abi.unshare, abi.audit, BigInt(CLONE_NEWUSER)), EPERM, `${abi.name} unshare(NEWUSER)`);
        assert.equal(run(p(), abi.unshare, abi.audit, BigInt(CLONE_NEWUSER | 0x20000)), EPERM, `${abi.name} unshare(NEWUSER|NEWNS)`);
        assert.equal(run(p(), abi.clone, abi.audit, BigInt(CLONE_NEWUSER | 17)), EPERM, `${abi.name} clone(NEWUSER)`);
        assert.equal(run(p(), abi.clone3, abi.audit), ENOSYS, `${abi.name} clone3`);
        assert.equal(run(p(), abi.unshare, abi.audit, 0x20000n), ALLOW, `${abi.name} unshare(NEWNS) is the kernel's to refuse`);
        assert.equal(run(p(), abi.clone, abi.audit, 0x3d0f00n), ALLOW, `${abi.name} clone for a thread`);
        assert.equal(run(p(), abi.clone, abi.audit, 17n), ALLOW, `${abi.name} fork`);
        for (const nr of [0, 1, 2, 39, 59, 60, 231]) assert.equal(run(p(), nr, abi.audit), ALLOW, `${abi.name} nr ${nr}`);
      }
      assert.equal(run(p(), x86_64.unshare, 0x12345678, BigInt(CLONE_NEWUSER)), ALLOW, "other architectures are not this filter's");
    });
  }

  it('x86_64: every x32 call gets ENOSYS (x32 unshare would dodge the check otherwise)', () => {
    assert.equal(run(prog, 0x40000000 | 272, x86_64.audit, BigInt(CLONE_NEWUSER)), ENOSYS);
    assert.equal(run(prog, 0x40000000 | 0, x86_64.audit), ENOSYS);
  });

  it('only the low 32 bits of the flags matter (CLONE_NEWUSER is 0x10000000)', () => {
    assert.equal(run(prog, x86_64.unshare, x86_64.audit, 0x1_0000_0000n), ALLOW);
    assert.equal(
      run(buildSeccompProgram([x86_64]), i386.unshare, i386.audit, BigInt(CLONE_NEWUSER)),
      ALLOW,
      'an ABI left out is not checked',
    );
  });
});
