"""Reading and fetching data from outside: FITS images with WCS, source catalogues, VO cutouts, HiPS / SIMBAD context."""
