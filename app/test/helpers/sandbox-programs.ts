/** Python programs the sandbox tests run as attacks. */

/** Forks sleeping children until fork fails (prints `error <errno>`), then prints `forks <n>`. */
export const forkBomb = `
import os, time
n = 0
try:
    while n < 1000:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError as e:
    print("error", e.errno)
print("forks", n, flush=True)
`;
