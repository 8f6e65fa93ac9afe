/*
 * Static table of real addresses and what geoip-lite 1.4.10 says about them, for the synthetic
 * log generator. It was made once by walking every IPv4 and IPv6 block record in geoip-lite's
 * own data files (geoip-city.dat / geoip-city6.dat), grouping blocks by location and keeping,
 * for the cities named below, blocks of >= 1024 addresses whose fix names the city with an
 * accuracy radius (`area`) <= 100 km; CDN and cloud allocations were skipped where an ISP block
 * existed. Every address inside a listed range resolves to exactly the listed city, region,
 * coordinates and area, so the generator can hand out distinct home addresses from a range.
 * IPv6 entries are /48 blocks; geoip-lite compares only the upper 64 bits of an IPv6 address.
 *
 * The table is tied to geoip-lite 1.4.10's data: a different database version moves blocks
 * around. tests/generate.test.ts re-resolves every entry and fails loudly if it drifted; if it
 * does, regenerate the table rather than patching single rows.
 */

/** A city-level ("precise") fix: names a city, accuracy radius <= 100 km. */
export interface PoolCity {
  readonly id: string;
  readonly country: string;
  readonly region: string;
  readonly city: string;
  readonly lat: number;
  readonly lon: number;
  /** geoip-lite's accuracy radius in km. */
  readonly area: number;
  /** UTC offset in hours in January (the generator has no DST; it only shapes daily rhythm). */
  readonly utcOffset: number;
  /** Inclusive IPv4 ranges, first and last address. */
  readonly v4: readonly (readonly [string, string])[];
  /** IPv6 /48 prefixes (text form 'xxxx:xxxx:xxxx::/48'). */
  readonly v6: readonly string[];
}

/** A country-level fix: no city and a radius >= 500 km, so never a position fix. */
export interface PoolCoarse {
  readonly id: string;
  readonly country: string;
  readonly lat: number;
  readonly lon: number;
  readonly area: number;
  readonly utcOffset: number;
  readonly v4: readonly (readonly [string, string])[];
}

export const GEOIP_LITE_VERSION = '1.4.10';

export const CITIES: readonly PoolCity[] = [
  {
    id: 'us-new-york', country: 'US', region: 'NY', city: 'New York',
    lat: 40.7123, lon: -74.0068, area: 20, utcOffset: -5,
    v4: [['12.34.220.0', '12.34.223.255'], ['38.76.92.0', '38.76.95.255'], ['96.16.24.0', '96.16.27.255'], ['172.99.0.0', '172.99.3.255']],
    v6: ['2603:7000:5f00::/48', '2603:7000:6400::/48'],
  },
  {
    id: 'us-chicago', country: 'US', region: 'IL', city: 'Chicago',
    lat: 41.8874, lon: -87.6318, area: 20, utcOffset: -6,
    v4: [['12.99.176.0', '12.99.191.255'], ['68.29.24.0', '68.29.31.255'], ['76.230.176.0', '76.230.183.255'], ['158.120.80.0', '158.120.83.255']],
    v6: [],
  },
  {
    id: 'us-los-angeles', country: 'US', region: 'CA', city: 'Los Angeles',
    lat: 34.0544, lon: -118.2441, area: 20, utcOffset: -8,
    v4: [['12.129.156.0', '12.129.159.255'], ['66.75.0.0', '66.75.3.255'], ['99.99.144.0', '99.99.151.255'], ['172.10.152.0', '172.10.159.255']],
    v6: ['2603:8000:a200::/48', '2603:8000:b140::/48'],
  },
  {
    id: 'us-newark', country: 'US', region: 'NJ', city: 'Newark',
    lat: 40.738, lon: -74.1634, area: 20, utcOffset: -5,
    v4: [['12.25.64.0', '12.25.71.255'], ['12.144.40.0', '12.144.47.255'], ['12.182.160.0', '12.182.175.255'], ['109.121.8.0', '109.121.15.255']],
    v6: [],
  },
  {
    id: 'ca-toronto', country: 'CA', region: 'ON', city: 'Toronto',
    lat: 43.6547, lon: -79.3623, area: 20, utcOffset: -5,
    v4: [['38.45.16.0', '38.45.23.255'], ['69.28.192.0', '69.28.199.255'], ['147.182.144.0', '147.182.159.255'], ['193.161.128.0', '193.161.131.255']],
    v6: [],
  },
  {
    id: 'ca-vancouver', country: 'CA', region: 'BC', city: 'Vancouver',
    lat: 49.2476, lon: -123.1234, area: 20, utcOffset: -8,
    v4: [['38.147.16.0', '38.147.31.255'], ['65.39.188.0', '65.39.191.255'], ['69.164.28.0', '69.164.31.255'], ['176.114.84.0', '176.114.87.255']],
    v6: [],
  },
  {
    id: 'ca-montreal', country: 'CA', region: 'QC', city: 'Montreal',
    lat: 45.5075, lon: -73.5887, area: 20, utcOffset: -5,
    v4: [['38.80.88.0', '38.80.95.255'], ['65.39.144.0', '65.39.147.255'], ['96.23.76.0', '96.23.79.255'], ['176.101.172.0', '176.101.175.255']],
    v6: [],
  },
  {
    id: 'mx-mexico-city', country: 'MX', region: 'CMX', city: 'Mexico City',
    lat: 19.4203, lon: -99.1193, area: 20, utcOffset: -6,
    v4: [['101.44.16.0', '101.44.31.255'], ['187.177.16.0', '187.177.23.255'], ['189.213.32.0', '189.213.35.255'], ['200.52.92.0', '200.52.95.255']],
    v6: [],
  },
  {
    id: 'mx-guadalajara', country: 'MX', region: 'JAL', city: 'Guadalajara',
    lat: 20.6762, lon: -103.3469, area: 5, utcOffset: -6,
    v4: [['148.202.32.0', '148.202.47.255'], ['187.237.148.0', '187.237.151.255'], ['189.143.180.0', '189.143.183.255'], ['189.178.88.0', '189.178.95.255']],
    v6: [],
  },
  {
    id: 'mx-monterrey', country: 'MX', region: 'NLE', city: 'Monterrey',
    lat: 25.6554, lon: -100.3258, area: 10, utcOffset: -6,
    v4: [['187.161.216.0', '187.161.223.255'], ['189.153.20.0', '189.153.23.255'], ['189.218.48.0', '189.218.55.255'], ['201.172.16.0', '201.172.31.255']],
    v6: [],
  },
  {
    id: 'br-sao-paulo', country: 'BR', region: 'SP', city: 'São Paulo',
    lat: -23.5335, lon: -46.6359, area: 20, utcOffset: -3,
    v4: [['140.204.12.0', '140.204.15.255'], ['177.148.144.0', '177.148.151.255'], ['189.33.240.0', '189.33.243.255'], ['200.196.64.0', '200.196.95.255']],
    v6: [],
  },
  {
    id: 'br-rio-de-janeiro', country: 'BR', region: 'RJ', city: 'Rio de Janeiro',
    lat: -22.9072, lon: -43.1883, area: 20, utcOffset: -3,
    v4: [['168.195.20.0', '168.195.23.255'], ['179.158.176.0', '179.158.183.255'], ['186.229.64.0', '186.229.79.255'], ['191.244.32.0', '191.244.63.255']],
    v6: [],
  },
  {
    id: 'ar-buenos-aires', country: 'AR', region: 'C', city: 'Buenos Aires',
    lat: -34.6142, lon: -58.3811, area: 20, utcOffset: -3,
    v4: [['157.92.0.0', '157.92.3.255'], ['181.45.68.0', '181.45.71.255'], ['190.220.128.0', '190.220.131.255'], ['200.89.132.0', '200.89.135.255']],
    v6: [],
  },
  {
    id: 'ar-cordoba', country: 'AR', region: 'X', city: 'Córdoba',
    lat: -31.429, lon: -64.1756, area: 5, utcOffset: -3,
    v4: [['181.4.148.0', '181.4.151.255'], ['186.13.40.0', '186.13.47.255'], ['190.189.200.0', '190.189.203.255'], ['200.32.96.0', '200.32.99.255']],
    v6: [],
  },
  {
    id: 'ar-la-plata', country: 'AR', region: 'B', city: 'La Plata',
    lat: -34.9309, lon: -57.9417, area: 5, utcOffset: -3,
    v4: [['179.41.40.0', '179.41.47.255'], ['181.23.144.0', '181.23.159.255'], ['181.231.184.0', '181.231.187.255'], ['191.81.152.0', '191.81.159.255']],
    v6: [],
  },
  {
    id: 'co-bogota', country: 'CO', region: 'DC', city: 'Bogotá',
    lat: 4.6115, lon: -74.0833, area: 5, utcOffset: -5,
    v4: [['181.55.176.0', '181.55.183.255'], ['186.30.144.0', '186.30.159.255'], ['190.24.80.0', '190.24.87.255'], ['191.107.128.0', '191.107.143.255']],
    v6: [],
  },
  {
    id: 'co-medellin', country: 'CO', region: 'ANT', city: 'Medellín',
    lat: 6.2529, lon: -75.5646, area: 5, utcOffset: -5,
    v4: [['179.12.200.0', '179.12.207.255'], ['181.135.48.0', '181.135.55.255'], ['190.28.80.0', '190.28.87.255'], ['191.148.216.0', '191.148.219.255']],
    v6: [],
  },
  {
    id: 'cl-santiago', country: 'CL', region: 'RM', city: 'Santiago',
    lat: -33.4521, lon: -70.6536, area: 5, utcOffset: -3,
    v4: [['186.20.232.0', '186.20.235.255'], ['190.20.32.0', '190.20.35.255'], ['190.161.216.0', '190.161.223.255'], ['201.188.156.0', '201.188.159.255']],
    v6: [],
  },
  {
    id: 'gb-london', country: 'GB', region: 'ENG', city: 'London',
    lat: 51.5088, lon: -0.093, area: 20, utcOffset: 0,
    v4: [['45.132.164.0', '45.132.167.255'], ['92.122.148.0', '92.122.151.255'], ['164.215.96.0', '164.215.99.255'], ['204.59.8.0', '204.59.15.255']],
    v6: [],
  },
  {
    id: 'gb-manchester', country: 'GB', region: 'ENG', city: 'Manchester',
    lat: 53.4788, lon: -2.2585, area: 10, utcOffset: 0,
    v4: [['51.187.184.0', '51.187.191.255'], ['82.29.228.0', '82.29.231.255'], ['90.192.248.0', '90.192.251.255'], ['151.226.56.0', '151.226.59.255']],
    v6: [],
  },
  {
    id: 'gb-slough', country: 'GB', region: 'ENG', city: 'Slough',
    lat: 51.5368, lon: -0.6718, area: 20, utcOffset: 0,
    v4: [['81.178.248.0', '81.178.255.255'], ['138.1.208.0', '138.1.223.255'], ['154.61.136.0', '154.61.139.255'], ['185.58.224.0', '185.58.227.255']],
    v6: [],
  },
  {
    id: 'ie-dublin', country: 'IE', region: 'L', city: 'Dublin',
    lat: 53.3379, lon: -6.2591, area: 20, utcOffset: 0,
    v4: [['46.137.48.0', '46.137.55.255'], ['79.125.0.0', '79.125.127.255'], ['154.50.216.0', '154.50.223.255'], ['191.238.96.0', '191.238.127.255']],
    v6: [],
  },
  {
    id: 'ie-cork', country: 'IE', region: 'M', city: 'Cork',
    lat: 51.8755, lon: -8.493, area: 5, utcOffset: 0,
    v4: [['78.18.216.0', '78.18.223.255'], ['80.111.76.0', '80.111.79.255'], ['95.44.64.0', '95.44.79.255'], ['143.239.80.0', '143.239.95.255']],
    v6: [],
  },
  {
    id: 'fr-paris', country: 'FR', region: 'IDF', city: 'Paris',
    lat: 48.8323, lon: 2.4075, area: 5, utcOffset: 1,
    v4: [['78.192.96.0', '78.192.99.255'], ['82.124.216.0', '82.124.223.255'], ['90.92.80.0', '90.92.95.255'], ['176.158.176.0', '176.158.191.255']],
    v6: [],
  },
  {
    id: 'fr-lyon', country: 'FR', region: 'ARA', city: 'Lyon',
    lat: 45.748, lon: 4.85, area: 5, utcOffset: 1,
    v4: [['77.196.132.0', '77.196.135.255'], ['86.202.80.0', '86.202.95.255'], ['90.66.148.0', '90.66.151.255'], ['176.147.4.0', '176.147.7.255']],
    v6: [],
  },
  {
    id: 'fr-lille', country: 'FR', region: 'HDF', city: 'Lille',
    lat: 50.624, lon: 3.0511, area: 5, utcOffset: 1,
    v4: [['77.206.160.0', '77.206.163.255'], ['81.185.144.0', '81.185.147.255'], ['89.158.240.0', '89.158.255.255'], ['109.15.32.0', '109.15.35.255']],
    v6: [],
  },
  {
    id: 'de-berlin', country: 'DE', region: 'BE', city: 'Berlin',
    lat: 52.5196, lon: 13.4069, area: 20, utcOffset: 1,
    v4: [['51.116.0.0', '51.116.63.255'], ['87.122.80.0', '87.122.83.255'], ['154.194.72.0', '154.194.79.255'], ['185.191.72.0', '185.191.75.255']],
    v6: [],
  },
  {
    id: 'de-hamburg', country: 'DE', region: 'HH', city: 'Hamburg',
    lat: 53.5544, lon: 9.9946, area: 20, utcOffset: 1,
    v4: [['62.156.208.0', '62.156.223.255'], ['84.242.24.0', '84.242.27.255'], ['94.45.224.0', '94.45.255.255'], ['178.3.228.0', '178.3.231.255']],
    v6: [],
  },
  {
    id: 'de-frankfurt-am-main', country: 'DE', region: 'HE', city: 'Frankfurt am Main',
    lat: 50.1188, lon: 8.6843, area: 20, utcOffset: 1,
    v4: [['45.138.96.0', '45.138.99.255'], ['92.123.148.0', '92.123.151.255'], ['154.50.136.0', '154.50.139.255'], ['192.142.220.0', '192.142.223.255']],
    v6: [],
  },
  {
    id: 'de-dusseldorf', country: 'DE', region: 'NW', city: 'Düsseldorf',
    lat: 51.2184, lon: 6.7734, area: 20, utcOffset: 1,
    v4: [['31.220.80.0', '31.220.95.255'], ['82.208.20.0', '82.208.23.255'], ['92.123.16.0', '92.123.23.255'], ['178.79.232.0', '178.79.235.255']],
    v6: ['2a03:d9c0:2000::/48', '2a03:d9c0:7000::/48'],
  },
  {
    id: 'nl-amsterdam', country: 'NL', region: 'NH', city: 'Amsterdam',
    lat: 52.3759, lon: 4.8975, area: 20, utcOffset: 1,
    v4: [['45.130.128.0', '45.130.131.255'], ['95.97.52.0', '95.97.55.255'], ['160.181.0.0', '160.181.31.255'], ['191.239.200.0', '191.239.203.255']],
    v6: [],
  },
  {
    id: 'nl-haarlem', country: 'NL', region: 'NH', city: 'Haarlem',
    lat: 52.3803, lon: 4.6422, area: 20, utcOffset: 1,
    v4: [['17.71.248.0', '17.71.255.255'], ['88.221.68.0', '88.221.71.255'], ['92.122.60.0', '92.122.63.255'], ['95.101.56.0', '95.101.59.255']],
    v6: [],
  },
  {
    id: 'nl-rotterdam', country: 'NL', region: 'ZH', city: 'Rotterdam',
    lat: 51.93, lon: 4.4264, area: 20, utcOffset: 1,
    v4: [['5.200.24.0', '5.200.31.255'], ['109.200.200.0', '109.200.207.255'], ['185.172.132.0', '185.172.135.255'], ['199.27.212.0', '199.27.215.255']],
    v6: [],
  },
  {
    id: 'be-brussels', country: 'BE', region: 'BRU', city: 'Brussels',
    lat: 50.8534, lon: 4.347, area: 50, utcOffset: 1,
    v4: [['46.179.224.0', '46.179.231.255'], ['109.139.8.0', '109.139.11.255'], ['188.5.196.0', '188.5.199.255'], ['213.119.152.0', '213.119.155.255']],
    v6: [],
  },
  {
    id: 'be-antwerp', country: 'BE', region: 'VLG', city: 'Antwerp',
    lat: 51.2192, lon: 4.3917, area: 50, utcOffset: 1,
    v4: [['81.83.8.0', '81.83.11.255'], ['91.177.16.0', '91.177.23.255'], ['109.128.168.0', '109.128.171.255'], ['212.71.20.0', '212.71.23.255']],
    v6: [],
  },
  {
    id: 'lu-luxembourg', country: 'LU', region: 'LU', city: 'Luxembourg',
    lat: 49.6113, lon: 6.1294, area: 20, utcOffset: 1,
    v4: [['83.99.0.0', '83.99.127.255'], ['90.84.96.0', '90.84.127.255'], ['94.252.88.0', '94.252.91.255'], ['196.247.192.0', '196.247.195.255']],
    v6: [],
  },
  {
    id: 'es-madrid', country: 'ES', region: 'MD', city: 'Madrid',
    lat: 40.4163, lon: -3.6934, area: 20, utcOffset: 1,
    v4: [['45.85.108.0', '45.85.111.255'], ['92.122.44.0', '92.122.47.255'], ['151.182.136.0', '151.182.143.255'], ['185.202.28.0', '185.202.31.255']],
    v6: [],
  },
  {
    id: 'es-barcelona', country: 'ES', region: 'CT', city: 'Barcelona',
    lat: 41.3947, lon: 2.1408, area: 5, utcOffset: 1,
    v4: [['62.37.28.0', '62.37.31.255'], ['79.152.220.0', '79.152.223.255'], ['83.45.92.0', '83.45.95.255'], ['92.178.144.0', '92.178.147.255']],
    v6: [],
  },
  {
    id: 'es-valencia', country: 'ES', region: 'VC', city: 'Valencia',
    lat: 39.4923, lon: -0.4046, area: 5, utcOffset: 1,
    v4: [['62.151.224.0', '62.151.227.255'], ['84.123.32.0', '84.123.47.255'], ['88.17.240.0', '88.17.243.255'], ['147.156.160.0', '147.156.191.255']],
    v6: [],
  },
  {
    id: 'it-milan', country: 'IT', region: '25', city: 'Milan',
    lat: 45.4722, lon: 9.1922, area: 20, utcOffset: 1,
    v4: [['31.190.184.0', '31.190.191.255'], ['81.27.128.0', '81.27.143.255'], ['95.181.216.0', '95.181.219.255'], ['159.149.160.0', '159.149.191.255']],
    v6: [],
  },
  {
    id: 'it-rome', country: 'IT', region: '62', city: 'Rome',
    lat: 41.8904, lon: 12.5126, area: 20, utcOffset: 1,
    v4: [['31.191.152.0', '31.191.155.255'], ['80.116.192.0', '80.116.199.255'], ['95.246.228.0', '95.246.231.255'], ['176.32.24.0', '176.32.31.255']],
    v6: [],
  },
  {
    id: 'at-vienna', country: 'AT', region: '9', city: 'Vienna',
    lat: 48.2049, lon: 16.3662, area: 20, utcOffset: 1,
    v4: [['68.210.0.0', '68.210.127.255'], ['91.112.0.0', '91.112.3.255'], ['192.171.252.0', '192.171.255.255'], ['213.47.216.0', '213.47.219.255']],
    v6: [],
  },
  {
    id: 'at-graz', country: 'AT', region: '6', city: 'Graz',
    lat: 47.0833, lon: 15.5667, area: 100, utcOffset: 1,
    v4: [['46.207.192.0', '46.207.207.255'], ['81.223.20.0', '81.223.23.255'], ['91.118.120.0', '91.118.127.255'], ['193.80.88.0', '193.80.91.255']],
    v6: ['2001:871:18::/48'],
  },
  {
    id: 'cz-prague', country: 'CZ', region: '10', city: 'Prague',
    lat: 50.0883, lon: 14.4124, area: 100, utcOffset: 1,
    v4: [['62.84.132.0', '62.84.135.255'], ['85.207.0.0', '85.207.7.255'], ['90.183.40.0', '90.183.47.255'], ['194.213.192.0', '194.213.195.255']],
    v6: [],
  },
  {
    id: 'cz-brno', country: 'CZ', region: '64', city: 'Brno',
    lat: 49.2327, lon: 16.6442, area: 100, utcOffset: 1,
    v4: [['85.135.52.0', '85.135.55.255'], ['93.185.96.0', '93.185.103.255'], ['147.251.160.0', '147.251.175.255'], ['213.192.16.0', '213.192.23.255']],
    v6: [],
  },
  {
    id: 'sk-bratislava', country: 'SK', region: 'BL', city: 'Bratislava',
    lat: 48.1833, lon: 17.0379, area: 5, utcOffset: 1,
    v4: [['85.216.176.0', '85.216.191.255'], ['90.64.208.0', '90.64.211.255'], ['147.175.64.0', '147.175.71.255'], ['188.167.96.0', '188.167.103.255']],
    v6: [],
  },
  {
    id: 'hu-budapest', country: 'HU', region: 'BU', city: 'Budapest',
    lat: 47.5636, lon: 19.0947, area: 100, utcOffset: 1,
    v4: [['37.234.56.0', '37.234.59.255'], ['84.1.32.0', '84.1.39.255'], ['109.61.72.0', '109.61.79.255'], ['193.225.240.0', '193.225.255.255']],
    v6: [],
  },
  {
    id: 'pl-warsaw', country: 'PL', region: '14', city: 'Warsaw',
    lat: 52.2296, lon: 21.0067, area: 20, utcOffset: 1,
    v4: [['50.114.188.0', '50.114.191.255'], ['82.139.56.0', '82.139.59.255'], ['89.78.152.0', '89.78.155.255'], ['194.35.116.0', '194.35.119.255']],
    v6: ['2a06:a003:9030::/48', '2a06:a003:90d0::/48'],
  },
  {
    id: 'pl-krakow', country: 'PL', region: '12', city: 'Krakow',
    lat: 50.0585, lon: 19.9342, area: 5, utcOffset: 1,
    v4: [['78.10.144.0', '78.10.159.255'], ['89.66.180.0', '89.66.183.255'], ['89.78.192.0', '89.78.195.255'], ['159.205.128.0', '159.205.135.255']],
    v6: [],
  },
  {
    id: 'se-stockholm', country: 'SE', region: 'AB', city: 'Stockholm',
    lat: 59.3287, lon: 18.0717, area: 20, utcOffset: 1,
    v4: [['80.65.216.0', '80.65.219.255'], ['90.133.160.0', '90.133.191.255'], ['158.174.108.0', '158.174.111.255'], ['196.196.228.0', '196.196.231.255']],
    v6: [],
  },
  {
    id: 'se-gothenburg', country: 'SE', region: 'O', city: 'Gothenburg',
    lat: 57.7065, lon: 11.967, area: 5, utcOffset: 1,
    v4: [['62.88.128.0', '62.88.159.255'], ['83.252.136.0', '83.252.139.255'], ['129.16.64.0', '129.16.95.255'], ['193.14.88.0', '193.14.95.255']],
    v6: [],
  },
  {
    id: 'tr-istanbul', country: 'TR', region: '34', city: 'Istanbul',
    lat: 41.0145, lon: 28.9533, area: 5, utcOffset: 3,
    v4: [['77.92.120.0', '77.92.127.255'], ['85.105.184.0', '85.105.187.255'], ['94.235.0.0', '94.235.15.255'], ['188.57.124.0', '188.57.127.255']],
    v6: [],
  },
  {
    id: 'ae-dubai', country: 'AE', region: 'DU', city: 'Dubai',
    lat: 25.0731, lon: 55.298, area: 20, utcOffset: 4,
    v4: [['5.31.80.0', '5.31.87.255'], ['83.111.128.0', '83.111.159.255'], ['92.97.36.0', '92.97.39.255'], ['94.207.240.0', '94.207.255.255']],
    v6: [],
  },
  {
    id: 'ae-abu-dhabi', country: 'AE', region: 'AZ', city: 'Abu Dhabi',
    lat: 24.4542, lon: 54.406, area: 100, utcOffset: 4,
    v4: [['5.194.84.0', '5.194.87.255'], ['83.110.80.0', '83.110.83.255'], ['94.59.100.0', '94.59.103.255'], ['185.66.16.0', '185.66.19.255']],
    v6: [],
  },
  {
    id: 'eg-cairo', country: 'EG', region: 'C', city: 'Cairo',
    lat: 30.0588, lon: 31.2268, area: 5, utcOffset: 2,
    v4: [['41.69.136.0', '41.69.143.255'], ['102.190.24.0', '102.190.31.255'], ['156.205.128.0', '156.205.135.255'], ['197.49.0.0', '197.49.15.255']],
    v6: [],
  },
  {
    id: 'eg-giza', country: 'EG', region: 'GZ', city: 'Giza',
    lat: 30.008, lon: 31.2194, area: 5, utcOffset: 2,
    v4: [['41.68.192.0', '41.68.199.255'], ['102.190.96.0', '102.190.111.255'], ['156.200.140.0', '156.200.143.255'], ['197.39.72.0', '197.39.79.255']],
    v6: [],
  },
  {
    id: 'eg-alexandria', country: 'EG', region: 'ALX', city: 'Alexandria',
    lat: 30.9977, lon: 29.7432, area: 5, utcOffset: 2,
    v4: [['41.44.192.0', '41.44.223.255'], ['102.8.160.0', '102.8.191.255'], ['154.180.208.0', '154.180.215.255'], ['196.159.12.0', '196.159.15.255']],
    v6: [],
  },
  {
    id: 'ng-lagos', country: 'NG', region: 'LA', city: 'Lagos',
    lat: 6.4474, lon: 3.3903, area: 20, utcOffset: 1,
    v4: [['41.58.224.0', '41.58.231.255'], ['41.219.184.0', '41.219.191.255'], ['154.113.160.0', '154.113.163.255'], ['196.50.4.0', '196.50.7.255']],
    v6: [],
  },
  {
    id: 'ng-abuja', country: 'NG', region: 'FC', city: 'Abuja',
    lat: 9.0567, lon: 7.4969, area: 50, utcOffset: 1,
    v4: [['41.73.8.0', '41.73.11.255'], ['41.217.16.0', '41.217.23.255'], ['41.242.56.0', '41.242.63.255'], ['129.56.56.0', '129.56.59.255']],
    v6: [],
  },
  {
    id: 'ke-nairobi', country: 'KE', region: '30', city: 'Nairobi',
    lat: -1.2841, lon: 36.8155, area: 5, utcOffset: 3,
    v4: [['102.1.64.0', '102.1.79.255'], ['105.63.224.0', '105.63.255.255'], ['154.154.96.0', '154.154.127.255'], ['197.179.128.0', '197.179.159.255']],
    v6: [],
  },
  {
    id: 'za-johannesburg', country: 'ZA', region: 'GP', city: 'Johannesburg',
    lat: -26.2309, lon: 28.0583, area: 20, utcOffset: 2,
    v4: [['41.79.20.0', '41.79.23.255'], ['102.37.160.0', '102.37.167.255'], ['105.245.32.0', '105.245.47.255'], ['197.70.128.0', '197.70.255.255']],
    v6: [],
  },
  {
    id: 'za-pretoria', country: 'ZA', region: 'GP', city: 'Pretoria',
    lat: -25.7599, lon: 28.2604, area: 20, utcOffset: 2,
    v4: [['156.38.148.0', '156.38.151.255'], ['196.57.140.0', '196.57.143.255'], ['196.59.112.0', '196.59.115.255'], ['196.243.128.0', '196.243.191.255']],
    v6: [],
  },
  {
    id: 'za-cape-town', country: 'ZA', region: 'WC', city: 'Cape Town',
    lat: -34.0486, lon: 18.4811, area: 20, utcOffset: 2,
    v4: [['45.220.176.0', '45.220.183.255'], ['102.130.236.0', '102.130.239.255'], ['165.49.128.0', '165.49.159.255'], ['197.65.128.0', '197.65.255.255']],
    v6: [],
  },
  {
    id: 'in-mumbai', country: 'IN', region: 'MH', city: 'Mumbai',
    lat: 19.0748, lon: 72.8856, area: 20, utcOffset: 5.5,
    v4: [['45.112.40.0', '45.112.43.255'], ['103.121.72.0', '103.121.75.255'], ['129.227.192.0', '129.227.199.255'], ['182.57.200.0', '182.57.203.255']],
    v6: ['2401:4900:1aa0::/48', '2401:4900:57d4::/48'],
  },
  {
    id: 'in-delhi', country: 'IN', region: 'DL', city: 'Delhi',
    lat: 28.6542, lon: 77.2373, area: 5, utcOffset: 5.5,
    v4: [['45.117.180.0', '45.117.183.255'], ['103.112.16.0', '103.112.19.255'], ['116.74.0.0', '116.74.31.255'], ['164.100.28.0', '164.100.31.255']],
    v6: ['2401:4900:1c48::/48', '2401:4900:1f34::/48'],
  },
  {
    id: 'in-bengaluru', country: 'IN', region: 'KA', city: 'Bengaluru',
    lat: 12.9634, lon: 77.5855, area: 20, utcOffset: 5.5,
    v4: [['36.255.84.0', '36.255.87.255'], ['106.51.176.0', '106.51.191.255'], ['134.217.180.0', '134.217.183.255'], ['171.76.80.0', '171.76.95.255']],
    v6: [],
  },
  {
    id: 'in-pune', country: 'IN', region: 'MH', city: 'Pune',
    lat: 18.6161, lon: 73.7286, area: 100, utcOffset: 5.5,
    v4: [['49.248.140.0', '49.248.143.255'], ['106.78.212.0', '106.78.215.255'], ['117.202.192.0', '117.202.195.255'], ['182.70.96.0', '182.70.103.255']],
    v6: [],
  },
  {
    id: 'sg-singapore', country: 'SG', region: '', city: 'Singapore',
    lat: 1.2868, lon: 103.8503, area: 20, utcOffset: 8,
    v4: [['47.74.248.0', '47.74.255.255'], ['119.8.160.0', '119.8.175.255'], ['155.69.160.0', '155.69.163.255'], ['195.123.236.0', '195.123.239.255']],
    v6: [],
  },
  {
    id: 'jp-tokyo', country: 'JP', region: '13', city: 'Tokyo',
    lat: 35.6837, lon: 139.6805, area: 20, utcOffset: 9,
    v4: [['60.98.16.0', '60.98.19.255'], ['116.83.44.0', '116.83.47.255'], ['126.234.180.0', '126.234.183.255'], ['219.67.72.0', '219.67.75.255']],
    v6: ['240d:1a:790::/48', '240d:1a:f2c::/48'],
  },
  {
    id: 'jp-yokohama', country: 'JP', region: '14', city: 'Yokohama',
    lat: 35.4346, lon: 139.6483, area: 20, utcOffset: 9,
    v4: [['60.64.32.0', '60.64.63.255'], ['115.177.124.0', '115.177.127.255'], ['126.36.172.0', '126.36.175.255'], ['218.129.36.0', '218.129.39.255']],
    v6: ['240d:1a:6f4::/48', '240d:1a:cf4::/48'],
  },
  {
    id: 'jp-osaka', country: 'JP', region: '27', city: 'Osaka',
    lat: 34.6946, lon: 135.5021, area: 20, utcOffset: 9,
    v4: [['45.8.220.0', '45.8.223.255'], ['103.88.44.0', '103.88.47.255'], ['156.227.232.0', '156.227.239.255'], ['203.137.116.0', '203.137.119.255']],
    v6: [],
  },
  {
    id: 'kr-seoul', country: 'KR', region: '11', city: 'Seoul',
    lat: 37.5576, lon: 126.9937, area: 10, utcOffset: 9,
    v4: [['58.142.76.0', '58.142.79.255'], ['121.138.144.0', '121.138.151.255'], ['210.179.208.0', '210.179.215.255'], ['220.85.24.0', '220.85.31.255']],
    v6: ['2001:2d8:e800::/48', '2001:2d8:f030::/48'],
  },
  {
    id: 'kr-suwon', country: 'KR', region: '41', city: 'Suwon',
    lat: 37.2872, lon: 127.0116, area: 20, utcOffset: 9,
    v4: [['58.124.116.0', '58.124.119.255'], ['118.34.208.0', '118.34.223.255'], ['182.219.244.0', '182.219.247.255'], ['219.248.100.0', '219.248.103.255']],
    v6: [],
  },
  {
    id: 'au-sydney', country: 'AU', region: 'NSW', city: 'Sydney',
    lat: -33.8715, lon: 151.2006, area: 20, utcOffset: 11,
    v4: [['49.187.192.0', '49.187.207.255'], ['110.143.196.0', '110.143.199.255'], ['125.168.112.0', '125.168.119.255'], ['203.37.104.0', '203.37.107.255']],
    v6: [],
  },
  {
    id: 'au-melbourne', country: 'AU', region: 'VIC', city: 'Melbourne',
    lat: -37.8159, lon: 144.9669, area: 20, utcOffset: 11,
    v4: [['49.255.200.0', '49.255.203.255'], ['110.144.0.0', '110.144.127.255'], ['124.177.32.0', '124.177.47.255'], ['203.129.128.0', '203.129.131.255']],
    v6: [],
  },
  {
    id: 'au-brisbane', country: 'AU', region: 'QLD', city: 'Brisbane',
    lat: -27.4679, lon: 153.0325, area: 20, utcOffset: 10,
    v4: [['58.165.48.0', '58.165.63.255'], ['110.142.228.0', '110.142.231.255'], ['121.212.216.0', '121.212.223.255'], ['159.197.148.0', '159.197.151.255']],
    v6: ['2001:8003:6440::/48', '2001:8003:7d40::/48'],
  },
  {
    id: 'nz-auckland', country: 'NZ', region: 'AUK', city: 'Auckland',
    lat: -36.8506, lon: 174.7679, area: 5, utcOffset: 13,
    v4: [['49.224.208.0', '49.224.215.255'], ['121.74.208.0', '121.74.223.255'], ['122.60.192.0', '122.60.199.255'], ['203.211.104.0', '203.211.107.255']],
    v6: [],
  },
  {
    id: 'nz-wellington', country: 'NZ', region: 'WGN', city: 'Wellington',
    lat: -41.3675, lon: 174.7153, area: 20, utcOffset: 13,
    v4: [['27.252.200.0', '27.252.203.255'], ['121.75.32.0', '121.75.47.255'], ['196.241.224.0', '196.241.227.255'], ['196.247.188.0', '196.247.191.255']],
    v6: [],
  },
];

export const COARSE: readonly PoolCoarse[] = [
  {
    id: 'us-coarse', country: 'US', lat: 37.751, lon: -97.822, area: 1000, utcOffset: -6,
    v4: [['64.68.128.0', '64.68.135.255'], ['143.244.0.0', '143.244.31.255'], ['204.44.32.0', '204.44.47.255']],
  },
  {
    id: 'gb-coarse', country: 'GB', lat: 51.4964, lon: -0.1224, area: 1000, utcOffset: 0,
    v4: [['46.193.232.0', '46.193.239.255'], ['81.158.8.0', '81.158.11.255'], ['195.89.128.0', '195.89.135.255']],
  },
  {
    id: 'de-coarse', country: 'DE', lat: 51.2993, lon: 9.491, area: 1000, utcOffset: 1,
    v4: [['47.64.0.0', '47.64.127.255'], ['47.68.0.0', '47.68.255.255'], ['213.71.0.0', '213.71.7.255']],
  },
  {
    id: 'fr-coarse', country: 'FR', lat: 48.8582, lon: 2.3387, area: 500, utcOffset: 1,
    v4: [['57.129.28.0', '57.129.31.255'], ['141.94.196.0', '141.94.199.255'], ['185.249.20.0', '185.249.23.255']],
  },
  {
    id: 'br-coarse', country: 'BR', lat: -22.8305, lon: -43.2192, area: 1000, utcOffset: -3,
    v4: [['168.205.212.0', '168.205.215.255'], ['186.241.224.0', '186.241.255.255'], ['200.170.80.0', '200.170.95.255']],
  },
  {
    id: 'in-coarse', country: 'IN', lat: 21.9974, lon: 79.0011, area: 1000, utcOffset: 5.5,
    v4: [['49.33.0.0', '49.33.127.255'], ['103.218.140.0', '103.218.143.255'], ['171.79.192.0', '171.79.255.255']],
  },
  {
    id: 'jp-coarse', country: 'JP', lat: 35.6897, lon: 139.6895, area: 500, utcOffset: 9,
    v4: [['103.75.252.0', '103.75.255.255'], ['150.54.0.0', '150.54.63.255'], ['210.189.64.0', '210.189.95.255']],
  },
  {
    id: 'au-coarse', country: 'AU', lat: -33.494, lon: 143.2104, area: 1000, utcOffset: 11,
    v4: [['103.19.244.0', '103.19.247.255'], ['144.130.136.0', '144.130.143.255'], ['203.14.80.0', '203.14.95.255']],
  },
  {
    id: 'ca-coarse', country: 'CA', lat: 43.6319, lon: -79.3716, area: 1000, utcOffset: -5,
    v4: [['96.51.64.0', '96.51.95.255'], ['163.123.184.0', '163.123.187.255'], ['204.244.112.0', '204.244.119.255']],
  },
  {
    id: 'mx-coarse', country: 'MX', lat: 19.4342, lon: -99.0559, area: 1000, utcOffset: -6,
    v4: [['148.246.96.0', '148.246.111.255'], ['187.253.196.0', '187.253.199.255'], ['200.236.64.0', '200.236.95.255']],
  },
  {
    id: 'es-coarse', country: 'ES', lat: 40.4172, lon: -3.684, area: 500, utcOffset: 1,
    v4: [['77.211.96.0', '77.211.127.255'], ['158.42.192.0', '158.42.223.255'], ['193.127.152.0', '193.127.159.255']],
  },
  {
    id: 'it-coarse', country: 'IT', lat: 43.1479, lon: 12.1097, area: 500, utcOffset: 1,
    v4: [['78.6.96.0', '78.6.111.255'], ['94.156.108.0', '94.156.111.255'], ['185.197.212.0', '185.197.215.255']],
  },
  {
    id: 'za-coarse', country: 'ZA', lat: -28.9984, lon: 23.9888, area: 500, utcOffset: 2,
    v4: [['41.208.0.0', '41.208.31.255'], ['163.200.0.0', '163.200.63.255'], ['196.212.196.0', '196.212.199.255']],
  },
  {
    id: 'se-coarse', country: 'SE', lat: 59.3247, lon: 18.056, area: 500, utcOffset: 1,
    v4: [['82.99.64.0', '82.99.127.255'], ['157.180.176.0', '157.180.183.255'], ['194.14.40.0', '194.14.43.255']],
  },
  {
    id: 'tr-coarse', country: 'TR', lat: 41.0214, lon: 28.9948, area: 500, utcOffset: 3,
    v4: [['62.29.24.0', '62.29.31.255'], ['95.173.248.0', '95.173.255.255'], ['193.140.112.0', '193.140.119.255']],
  },
  {
    id: 'ng-coarse', country: 'NG', lat: 10, lon: 8, area: 500, utcOffset: 1,
    v4: [['41.223.44.0', '41.223.47.255'], ['102.217.180.0', '102.217.183.255'], ['196.47.96.0', '196.47.127.255']],
  },
  {
    id: 'ar-coarse', country: 'AR', lat: -34.6022, lon: -58.3845, area: 1000, utcOffset: -3,
    v4: [['170.150.196.0', '170.150.199.255'], ['186.124.64.0', '186.124.95.255'], ['200.47.160.0', '200.47.167.255']],
  },
  {
    id: 'kr-coarse', country: 'KR', lat: 37.5112, lon: 126.9741, area: 1000, utcOffset: 9,
    v4: [['39.115.240.0', '39.115.255.255'], ['124.61.208.0', '124.61.223.255'], ['218.153.32.0', '218.153.63.255']],
  },
  {
    id: 'nz-coarse', country: 'NZ', lat: -42.0009, lon: 173.998, area: 500, utcOffset: 13,
    v4: [['113.130.120.0', '113.130.123.255'], ['150.206.0.0', '150.206.255.255'], ['203.109.180.0', '203.109.183.255']],
  },
];

/** Neighbouring cities 10–60 km apart in one country: a daily commute, never travel. */
export const COMMUTER_PAIRS: readonly (readonly [string, string])[] = [
  ['gb-london', 'gb-slough'],
  ['nl-amsterdam', 'nl-haarlem'],
  ['jp-tokyo', 'jp-yokohama'],
  ['za-johannesburg', 'za-pretoria'],
  ['kr-seoul', 'kr-suwon'],
  ['ar-buenos-aires', 'ar-la-plata'],
  ['be-brussels', 'be-antwerp'],
  ['us-new-york', 'us-newark'],
];

/**
 * Precisely located cities (accuracy radius <= 50 km) of one country, 150–450 km apart once both
 * radii are taken off: a login from one minutes after the other is a short hop — beyond the
 * 100 km floor for accurate fixes, under the 500 km of the standard one.
 */
export const SHORT_HOP_PAIRS: readonly (readonly [string, string])[] = [
  ['gb-london', 'gb-manchester'],
  ['ie-dublin', 'ie-cork'],
  ['fr-paris', 'fr-lyon'],
  ['fr-paris', 'fr-lille'],
  ['de-berlin', 'de-hamburg'],
  ['de-frankfurt-am-main', 'de-hamburg'],
  ['es-madrid', 'es-valencia'],
  ['es-barcelona', 'es-valencia'],
  ['it-milan', 'it-rome'],
  ['pl-warsaw', 'pl-krakow'],
  ['se-stockholm', 'se-gothenburg'],
  ['jp-tokyo', 'jp-osaka'],
  ['br-sao-paulo', 'br-rio-de-janeiro'],
  ['co-bogota', 'co-medellin'],
  ['mx-mexico-city', 'mx-guadalajara'],
  ['eg-cairo', 'eg-alexandria'],
];

/**
 * Cities in different countries, every pair under 500 km apart: logins hopping between them
 * within the hour are a geo surge, and (with each hop timed under 800 km/h by the generator)
 * never impossible travel, which keeps the two detectors' incidents separable.
 */
export const SURGE_CLUSTERS: readonly (readonly string[])[] = [
  ['nl-amsterdam', 'be-brussels', 'de-dusseldorf', 'fr-lille', 'lu-luxembourg'],
  ['at-vienna', 'sk-bratislava', 'hu-budapest', 'cz-brno'],
];

const CITY_BY_ID: ReadonlyMap<string, PoolCity> = new Map(CITIES.map((c) => [c.id, c]));
const COARSE_BY_COUNTRY: ReadonlyMap<string, PoolCoarse> = new Map(COARSE.map((c) => [c.country, c]));

export function cityById(id: string): PoolCity {
  const c = CITY_BY_ID.get(id);
  if (!c) throw new Error(`ipPool: unknown city id "${id}"`);
  return c;
}

export function coarseFor(country: string): PoolCoarse | undefined {
  return COARSE_BY_COUNTRY.get(country);
}
