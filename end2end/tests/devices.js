// Browser context options of the screens the suite and the first-load benchmark use.

/** A phone: 390 × 844 CSS px (an iPhone 12–15), touch, mobile viewport handling. */
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

/** A laptop: 1280 × 800 CSS px. */
export const DESKTOP = { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 };
