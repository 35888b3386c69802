/** The part of jStat (https://jstat.github.io) that analytics uses; the package ships no types. */
declare module 'jstat' {
  export const jStat: {
    normal: {
      cdf(x: number, mean: number, sd: number): number;
      inv(p: number, mean: number, sd: number): number;
    };
    median(values: number[]): number;
    /** Median absolute deviation from the median (unscaled). */
    meddev(values: number[]): number;
  };
}
