/** A run scoped to some persons (after a staff decision), as SQL. */
import { sql, type RawBuilder } from 'kysely';

/** `and <column> = any(<persons>)`, or nothing when the run is everyone's (null). */
export function ofPersons(column: RawBuilder<unknown>, persons: readonly number[] | null): RawBuilder<unknown> {
  return persons ? sql`and ${column} = any(${[...persons]})` : sql``;
}
