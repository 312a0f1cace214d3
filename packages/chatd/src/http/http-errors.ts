import { ChatdError } from '../errors.js';

/** The server cannot serve the request right now (it is shutting down); the client may retry elsewhere. */
export class ServiceUnavailableError extends ChatdError {
  constructor(message = 'the server is shutting down; try again', options?: ErrorOptions) {
    super('E_UNAVAILABLE', message, options);
  }
}
