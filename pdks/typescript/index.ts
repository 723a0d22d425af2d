// Package entry for `import … from "extism-pdk"`; the library lives in assembly/.
export * from "./assembly/index";
