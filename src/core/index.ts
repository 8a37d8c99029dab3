export * from "./atomic-file.js";
export * from "./config.js";
export * from "./errors.js";
export * from "./logger.js";
export * from "./names.js";
export * from "./redact.js";
