import maxmind, { type CountryResponse, type Reader } from 'maxmind'
import type { Logger } from '../logger.ts'

/**
 * The country of a client address, from a MaxMind database the operator
 * supplies (GEOIP_DB: GeoLite2-Country.mmdb or a City one). Nothing is
 * downloaded: without the file there is no country. The file is opened once
 * and watched, so replacing it (MaxMind publishes updates twice a week) takes
 * effect without a restart.
 */
export interface CountryLookup {
  /** ISO 3166-1 alpha-2, or undefined when the address is not in the database */
  country(ip: string): string | undefined
}

export async function openGeoip(path: string, log: Logger): Promise<CountryLookup> {
  const reader: Reader<CountryResponse> = await maxmind.open<CountryResponse>(path, {
    watchForUpdates: true,
    watchForUpdatesNonPersistent: true,
  })
  log.info({ path }, 'GeoIP database opened: browser events get a country')
  return {
    country(ip: string) {
      // Addresses behind IPv4-mapped IPv6 (::ffff:1.2.3.4) are looked up as IPv4.
      const plain = ip.startsWith('::ffff:') ? ip.slice(7) : ip
      if (!maxmind.validate(plain)) return undefined
      const found = reader.get(plain)
      const code = found?.country?.iso_code ?? found?.registered_country?.iso_code
      return typeof code === 'string' && /^[A-Z]{2}$/.test(code) ? code : undefined
    },
  }
}
