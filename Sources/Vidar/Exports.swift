@_exported import VidarNN
