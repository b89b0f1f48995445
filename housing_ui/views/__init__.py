"""The dashboard's pages, one module each (`page(api, model)`)."""
