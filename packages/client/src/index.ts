/** @chatd/client: the typed client of chatd's HTTP API. */
export {};
