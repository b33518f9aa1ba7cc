/**
 * Side-effect import that installs the library instrumentations (instrumentations.ts). It must be
 * the first import of every entry point: a module required before it is not instrumented.
 */
import { installInstrumentations } from "./instrumentations";

installInstrumentations();
