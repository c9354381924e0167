/** Times as the county reads them: Asia/Shanghai, whatever the server's zone. */
import { COUNTY_TIME_ZONE } from '../config.js';

// the Swedish locale writes ISO-like 2026-11-22 02:00:00
const COUNTY_CLOCK = new Intl.DateTimeFormat('sv-SE', {
  timeZone: COUNTY_TIME_ZONE,
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});

/** 2026-11-21T18:00:00Z → "2026-11-22 02:00:00" */
export function countyTime(at: Date): string {
  return COUNTY_CLOCK.format(at);
}

/** For file names and run ids: "20261122-020000" (county time). */
export function countyStamp(at: Date): string {
  return countyTime(at).replace(/-|:/g, '').replace(' ', '-');
}
