/** A setting with a value that is not allowed. The message names key, value and what is allowed. */
export class ConfigError extends Error {
    constructor(readonly key: string, readonly value: unknown, readonly allowed: string) {
        super(`spin-cloud:${key} = ${JSON.stringify(value)} is not allowed: ${allowed}`);
        this.name = "ConfigError";
    }
}
