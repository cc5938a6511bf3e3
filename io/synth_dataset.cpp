#include "io/synth_dataset.h"

#include <cstdlib>

#include "io/image.h"
#include "io/text_io.h"
#include "nn/error.h"

namespace ec {

LabelledSplit read_labelled_split(const std::string& dir, const std::string& split) {
    const std::string csv_path = dir + "/labels.csv";
    const CsvTable t = read_csv(csv_path);
    const size_t file = t.column("file"), split_col = t.column("split"), index = t.column("class_index"),
                 label = t.column("label");
    LabelledSplit out;
    for (size_t r = 0; r < t.rows.size(); ++r) {
        const std::vector<std::string>& row = t.rows[r];
        char* end = nullptr;
        const long k = std::strtol(row[index].c_str(), &end, 10);
        const std::string where = csv_path + ": row " + std::to_string(r + 1) + ": ";
        if (row[index].empty() || *end || k < 0 || k > 999) throw Error(where + "class_index '" + row[index] + "' is not in 0..999");
        if (out.classes.size() <= size_t(k)) out.classes.resize(size_t(k) + 1);
        if (out.classes[size_t(k)].empty()) out.classes[size_t(k)] = row[label];
        else if (out.classes[size_t(k)] != row[label])
            throw Error(where + "class " + std::to_string(k) + " is '" + row[label] + "', earlier '" + out.classes[size_t(k)] + "'");
        if (row[split_col] != split) continue;
        const std::string path = dir + "/" + split + "/images/" + row[file];
        const ImageU8 im = decode_image(path);
        TrainSet& s = out.set;
        if (s.count == 0) s.height = im.height, s.width = im.width, s.channels = 3;
        else if (im.height != s.height || im.width != s.width)
            throw Error(path + ": " + std::to_string(im.width) + "x" + std::to_string(im.height) + ", the first image is " +
                        std::to_string(s.width) + "x" + std::to_string(s.height));
        s.pixels.insert(s.pixels.end(), im.rgb.begin(), im.rgb.end());
        s.labels.push_back(int(k));
        ++s.count;
        out.files.push_back(path);
    }
    for (size_t k = 0; k < out.classes.size(); ++k)
        if (out.classes[k].empty()) throw Error(csv_path + ": no row of class_index " + std::to_string(k));
    if (out.set.count == 0) throw Error(csv_path + ": no image of split '" + split + "'");
    return out;
}

}  // namespace ec
