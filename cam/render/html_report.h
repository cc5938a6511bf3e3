// `entropycam report`: the audit report as self-contained HTML pages. This file turns the results of a run
// (what the CLI gathered through the explain pipeline: per input its overlays, top-5 classes and warnings;
// optionally `evaluate` and `sanity` CSV tables) into page text. Images are files beside the pages, named
// relative to the page's folder; pages hold nothing else from outside (no http:, no absolute path, no
// external script or style). Large runs are split into pages of `inputs_per_page` inputs with links between
// them; every image is loading="lazy", so a page of many inputs opens fast.
#pragma once
#include <string>
#include <vector>

#include "io/text_io.h"

namespace ec {

struct ReportSettings {
    std::string model;                 // the model's name
    std::string input_size;            // e.g. "224 x 224 x 3"
    int classes = 0;                   // outputs of the model
    std::string layer;                 // the CAM target
    std::string layer_shape;           // e.g. "[1,7,7,960]"
    std::vector<std::string> methods;        // method names (cam_method_name), in column order
    std::vector<std::string> method_titles;  // their titles ("Grad-CAM", ...)
    std::string entropy;               // the entropy estimator, e.g. "spatial" or "hist (256 bins)"
    std::vector<std::string> warnings; // run-wide warnings (the plan's), each once
};

struct ReportClass {
    int index = -1;
    std::string label;
    double prob = 0;
};

struct ReportInput {
    std::string path;                    // as given on the command line (shown, never linked)
    std::string image;                   // the preprocessed input as a PNG, relative to the page folder
    std::vector<std::string> overlays;   // one PNG per method (settings order), relative
    ReportClass explained;               // the class the maps explain
    std::vector<ReportClass> top5;       // best first
    std::vector<std::string> warnings;   // what makes this input's maps questionable
    std::vector<std::vector<std::string>> map_warnings;  // per method, warnings on that map
};

struct ReportPage {
    std::string file;  // "index.html", "page-2.html", ...
    std::string html;
};

struct ReportOptions {
    int inputs_per_page = 100;
    std::vector<std::string> grids;       // per page, the grid figure (relative), or empty for none
    std::vector<CsvTable> evaluate;       // `entropycam evaluate` CSVs (shown on the first page)
    std::vector<std::string> evaluate_names;
    std::vector<CsvTable> sanity;         // `entropycam sanity` CSVs (shown on the first page)
    std::vector<std::string> sanity_names;
};

// Number of pages for n inputs: max(1, ceil(n / per_page)).
int report_page_count(size_t inputs, int inputs_per_page);
// The file name of page p (0-based): "index.html", then "page-2.html", ...
std::string report_page_file(int page);

// Every page of the report. Throws Error for a bad option (inputs_per_page < 1, a grid list of the wrong
// length) or an evaluate / sanity CSV without the columns it needs (naming the CSV and the column).
std::vector<ReportPage> report_pages(const ReportSettings& settings, const std::vector<ReportInput>& inputs,
                                     const ReportOptions& options);

// The sections built from CSVs (also used by report_pages): the metric tables, AUC plots and per-image scores
// of `evaluate` CSVs; the randomisation curves and class-sensitivity table of `sanity` CSVs.
std::string evaluate_section(const CsvTable& table, const std::string& name);
std::string sanity_section(const CsvTable& table, const std::string& name);

}  // namespace ec
