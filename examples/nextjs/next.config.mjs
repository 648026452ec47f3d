/** @type {import('next').NextConfig} */
const config = {
  // `next start` gzips responses itself. An event stream is left alone (its
  // `Cache-Control: no-transform` opts it out), but compression belongs in the proxy in front
  // of Next.js anyway; turning it off here removes any chance of events waiting in a gzip buffer.
  compress: false,
};

export default config;
