"""Reading and fetching data from outside: FITS images with WCS, source catalogues, VO cutouts, HiPS / SIMBAD context.

- ``fits``: a FITS file as one lazily read 2-D image (:func:`read_image`, :class:`FitsImage`);
- ``fits_checks``: what a file or header must pass, refused with :class:`FitsReadError`;
- ``wcs``, ``sky``: the celestial WCS of a header, and sky / pixel conversions through it;
- ``beam``, ``bunit``: the restoring beam and the Jy/beam units of a radio image;
- ``catalog``, ``fetch``, ``context``: source catalogues, VO cutouts, HiPS and SIMBAD.
"""
