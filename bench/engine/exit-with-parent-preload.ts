/**
 * Preloaded (`--import`) into every process the engine bench spawns. The bench kills its children
 * on any exit it sees, but not when it is SIGKILLed itself (a test runner's timeout): then the IPC
 * channel closes, and the child must not outlive its parent.
 */
process.on("disconnect", () => process.exit(1));
process.channel?.unref();
