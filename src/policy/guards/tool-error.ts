// The refusal the guards throw: an error whose message was written for the client (it names only the caller's
// own arguments). The built-in servers show it as an `isError` result; the guards stage words its own.

export class ToolError extends Error {}
