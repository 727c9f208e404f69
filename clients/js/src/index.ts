// @symbolon/client: the browser-safe entry point (no Node.js modules). FileStorage is in
// "@symbolon/client/node".

export { SymbolonClient, bearerError, isInvalidToken } from "./client.js";
export type { Lock, LogoutScope, SymbolonClientOptions, SymbolonEvents } from "./client.js";
export {
  InDoubtError,
  InvalidCredentialsError,
  LoginRequiredError,
  ProtocolError,
  RefusedError,
  ServerError,
  StoreError,
  SymbolonError,
  TransientError,
} from "./errors.js";
export { MemoryStorage } from "./storage.js";
export type { TokenRecord, TokenStorage } from "./storage.js";
export { headerTransport } from "./transport.js";
export type { TokenResponseBody, TokenTransport } from "./transport.js";
