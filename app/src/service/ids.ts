/** Ids as the store holds them: a string that is not a UUID names nothing (and would be a SQL error). */
export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
