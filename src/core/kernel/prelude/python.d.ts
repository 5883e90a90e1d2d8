/** A `.py` file imported as its text (esbuild's text loader in scripts/build.mjs; scripts/registerTs.cjs under tsx). */
declare module '*.py' {
  const text: string;
  export default text;
}
