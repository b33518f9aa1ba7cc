// gpt-tokenizer maps its subpaths through package.json "exports" (cjs for require, esm for import),
// which the node10 module resolution of this workspace does not read; its types are the esm ones.
declare module "gpt-tokenizer/encoding/o200k_base" {
  export * from "gpt-tokenizer/esm/encoding/o200k_base";
}
